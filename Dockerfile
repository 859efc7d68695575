# syntax=docker/dockerfile:1
# The operator image. Stage one builds wheels (dependencies first, so editing the source does
# not rebuild them); stage two installs them on a slim Python and runs as an unprivileged
# numeric user, which Kubernetes can verify against runAsNonRoot without reading /etc/passwd.
#   docker build -t zstack-operator:0.1.0 .
# The image holds the operator only; the simulator, bench and dev cluster run from a source
# install (see docs/install.md).

ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml constraints.txt ./
# The runtime dependencies, at the versions constraints.txt pins.
RUN python -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))' > requirements.txt \
 && pip wheel --wheel-dir /wheels --constraint constraints.txt --requirement requirements.txt
COPY README.md ./
COPY operator ./operator
# The tooling (simulator, bench, dev cluster, demo) is dead weight and attack surface in a
# running operator: `run` never imports it (tests/unit/test_cli_imports.py), and in this image
# `zstack-operator sim` and the like say in one line that they are not installed. It is removed
# from the source before the wheel is built, so the wheel's RECORD lists exactly what the image
# holds and every build drops the same files; rm without -f fails the build if one was renamed.
RUN rm -r operator/zstack_operator/sim operator/zstack_operator/bench \
          operator/zstack_operator/devcluster \
          operator/zstack_operator/demo.py operator/zstack_operator/bench_client.py \
 && pip wheel --no-deps --wheel-dir /wheels .

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="zstack-operator" \
      org.opencontainers.image.description="Manages ZStack AI model services as Kubernetes ModelService resources" \
      org.opencontainers.image.licenses="Apache-2.0"
# Only wheels built above, nothing fetched at this stage: the image holds exactly the pins.
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-cache-dir --disable-pip-version-check --no-index --find-links /wheels zstack-operator
# Bytecode was compiled at install time; the root filesystem is read-only at run time and /tmp
# is the pod's scratch volume, so HOME points there for any library that wants a home.
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 HOME=/tmp
USER 65532:65532
# /healthz, /readyz and /metrics (--health-address).
EXPOSE 8080
ENTRYPOINT ["zstack-operator", "run"]
