# synthpet as a BIDS App container:
#   docker build -t synthpet .
#   docker run --rm -v /data/study:/data:ro -v /data/out:/out synthpet /data /out participant --participant-label 01
# CPU torch by default; for CUDA, build with --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu124
FROM python:3.11-slim

ARG TORCH=torch==2.13.0
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu

RUN apt-get update && apt-get install -y --no-install-recommends git && rm -rf /var/lib/apt/lists/*
# torch first, from the chosen index, so that the package's torch>=2.4 does not pull another build
RUN pip install --no-cache-dir "${TORCH}" --index-url "${TORCH_INDEX}"
COPY . /opt/synthpet
# not editable: the workflow (Snakefile, rules, scripts, schema, configs) goes into the package
RUN pip install --no-cache-dir /opt/synthpet && rm -rf /opt/synthpet/build
WORKDIR /tmp
ENTRYPOINT ["synthpet"]
CMD ["--help"]
