# syntax=docker/dockerfile:1
# The operator image. Stage one builds wheels (dependencies first, so editing the source does
# not rebuild them); stage two installs them on a slim Python and runs as an unprivileged
# numeric user, which Kubernetes can verify against runAsNonRoot without reading /etc/passwd.
#   docker build -t zstack-operator:0.1.0 .
# The image holds the operator only; the simulator, bench and dev cluster run from a source
# install (see docs/install.md).
#
# Supply chain (docs/supply-chain.md): the base is pinned by digest, and pip accepts only files
# whose sha256 requirements/image.txt (runtime dependencies) and requirements/build.txt (the
# build backend) record, so a changed tag or a replaced upload fails the build instead of
# entering the image. PYTHON_IMAGE may name another base with the same layout (python and pip
# on PATH, pip allowed to install): the image tests build on a stand-in made from Debian
# packages, because no registry is reachable there (docs/image.md, hack/image.sh).

# python:3.11-slim as published on Docker Hub (a multi-architecture index digest; see
# docs/supply-chain.md for where it was read and how to bump it).
ARG PYTHON_IMAGE=python:3.11-slim@sha256:9c900dea9e8fb7e16277c179b555cc72d29a352dbc33cff48ad5a0412fd5bfc7

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY requirements ./requirements
# The build backend, then the runtime dependencies as the PyPI wheels whose hashes the files
# record. Hash-checking mode also fails the build when a dependency of a listed package is not
# listed itself, and --only-binary keeps pip from building (and fetching a backend for) any sdist.
RUN pip install --require-hashes --only-binary :all: --requirement requirements/build.txt \
 && pip download --require-hashes --only-binary :all: --dest /wheels \
      --requirement requirements/image.txt \
 && cp requirements/image.txt /wheels/requirements.txt
COPY pyproject.toml README.md ./
COPY operator ./operator
# The tooling (simulator, bench, dev cluster, demo) is dead weight and attack surface in a
# running operator: `run` never imports it (tests/unit/test_cli_imports.py), and in this image
# `zstack-operator sim` and the like say in one line that they are not installed. It is removed
# from the source before the wheel is built, so the wheel's RECORD lists exactly what the image
# holds and every build drops the same files; rm without -f fails the build if one was renamed.
# The wheel is built with the setuptools installed above (no build isolation, so nothing is
# fetched); --check-build-dependencies fails if that is not what pyproject's [build-system] names.
RUN rm -r operator/zstack_operator/sim operator/zstack_operator/bench \
          operator/zstack_operator/devcluster \
          operator/zstack_operator/demo.py operator/zstack_operator/bench_client.py \
 && pip wheel --no-deps --no-index --no-build-isolation --check-build-dependencies \
      --wheel-dir /wheels .

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="zstack-operator" \
      org.opencontainers.image.description="Manages ZStack AI model services as Kubernetes ModelService resources" \
      org.opencontainers.image.licenses="Apache-2.0"
# Only the wheels built above, nothing fetched at this stage: the dependencies checked against
# their hashes once more, then the project's own wheel, then pip's check that nothing is missing.
# COPY rather than RUN --mount=type=bind,from=build (which would keep the 8 MB of wheels out of
# the image): podman 4.3 / buildah 1.28, the test machines' builder, reuses such a RUN from its
# cache after the build stage changed and can mount a cached stage without its last layer
# (containers/buildah#4522, containers/podman#16281). COPY's cache follows the files' content.
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --disable-pip-version-check --no-index --find-links /wheels \
      --require-hashes --only-binary :all: --requirement /wheels/requirements.txt \
 && pip install --no-cache-dir --disable-pip-version-check --no-index --find-links /wheels \
      --no-deps zstack-operator \
 && pip check --disable-pip-version-check \
 && rm -r /wheels
# Bytecode was compiled at install time; the root filesystem is read-only at run time and /tmp
# is the pod's scratch volume, so HOME points there for any library that wants a home.
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 HOME=/tmp
USER 65532:65532
# /healthz, /readyz and /metrics (--health-address).
EXPOSE 8080
ENTRYPOINT ["zstack-operator", "run"]
