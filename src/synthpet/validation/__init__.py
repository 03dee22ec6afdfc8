"""The validation harness: a synthetic cohort with known ground truth (``phantom``) and the workflow's
accuracy against that truth (``truth``). The method's modules and rules know nothing of it; its rules
(workflow/rules/validation.smk) are included only when the input is the synthetic cohort."""
