# The Continuum operator image: `docker build -t continuum/operator:0.1.0 .`
# Runs `continuum operator` as an unprivileged user; manifests/operator.yaml passes the arguments.

# Same Python minor as the project's venv; pin by digest as well in a release pipeline.
ARG PYTHON_IMAGE=python:3.11.7-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml images/requirements.py ./
# A virtualenv is copied whole into the runtime stage: no compiler or pip cache there. Only the
# operator's dependencies: Spark, pandas and MLflow's server belong to the training image.
# Dependencies first, in a layer of their own: a change to the code reuses it.
RUN python -m venv /opt/continuum \
 && python requirements.py > requirements.txt \
 && /opt/continuum/bin/pip install -r requirements.txt
COPY operator/ operator/
COPY workloads/ workloads/
# The package's long description is not needed here; an edit of the README must not rebuild.
RUN touch README.md && /opt/continuum/bin/pip install --no-deps .

FROM ${PYTHON_IMAGE}
ENV PATH=/opt/continuum/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp
RUN groupadd --system --gid 10001 continuum \
 && useradd --system --uid 10001 --gid continuum --no-create-home --shell /usr/sbin/nologin continuum
COPY --from=build /opt/continuum /opt/continuum
USER 10001:10001
EXPOSE 8080 9090
ENTRYPOINT ["continuum"]
CMD ["operator", "--all-namespaces", "--liveness=http://0.0.0.0:8080/healthz", "--metrics-port=9090"]
