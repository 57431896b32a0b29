#!/bin/bash
# The workloads image's entry point. Spark on Kubernetes starts driver and executor pods with the
# first argument `driver` or `executor` (what Apache Spark's own image entrypoint accepts);
# anything else runs as given, e.g. `continuum serve` or `continuum --help`.
set -euo pipefail

# Spark's executors look their user up; an arbitrary UID (OpenShift, runAsUser) has no entry.
if ! getent passwd "$(id -u)" >/dev/null 2>&1 && [[ -w /etc/passwd ]]; then
  echo "spark:x:$(id -u):$(id -g):spark:${HOME:-/tmp}:/usr/sbin/nologin" >>/etc/passwd
fi

classpath="$SPARK_HOME/jars/*"
if [[ -n "${CONTINUUM_SPARK_JARS_DIR:-}" ]]; then
  classpath="$classpath:$CONTINUUM_SPARK_JARS_DIR/*"
  # The Kafka connector's jars, comma-separated for spark.jars (`continuum serve` reads it).
  if [[ -z "${CONTINUUM_SPARK_JARS:-}" ]]; then
    jars=("$CONTINUUM_SPARK_JARS_DIR"/*.jar)
    CONTINUUM_SPARK_JARS="$(IFS=,; echo "${jars[*]}")"
    export CONTINUUM_SPARK_JARS
  fi
fi
# Spark passes the executors' JVM options as SPARK_JAVA_OPT_0, _1, ... in order.
java_opts=()
while IFS='=' read -r name value; do
  java_opts+=("$value")
done < <(env | grep -E '^SPARK_JAVA_OPT_[0-9]+=' | sort -t_ -k4 -n)

case "${1:-}" in
  driver)
    shift
    # The driver reaches the API server the way in-cluster clients do (the address Kubernetes
    # puts in every pod's environment), and its executors reach it at its pod IP rather than
    # its Service's name: neither needs cluster DNS.
    api_host="${KUBERNETES_SERVICE_HOST:-kubernetes.default.svc}"
    [[ "$api_host" == *:* ]] && api_host="[$api_host]"
    exec "$SPARK_HOME/bin/spark-submit" \
      --conf "spark.kubernetes.driver.master=https://${api_host}:${KUBERNETES_SERVICE_PORT:-443}" \
      --conf "spark.driver.bindAddress=${SPARK_DRIVER_BIND_ADDRESS}" \
      --conf "spark.driver.host=${SPARK_DRIVER_BIND_ADDRESS}" \
      --conf "spark.executorEnv.SPARK_DRIVER_POD_IP=${SPARK_DRIVER_BIND_ADDRESS}" \
      --deploy-mode client "$@"
    ;;
  executor)
    shift
    exec java "${java_opts[@]}" \
      -Xms"${SPARK_EXECUTOR_MEMORY}" -Xmx"${SPARK_EXECUTOR_MEMORY}" \
      -cp "$classpath${SPARK_CLASSPATH:+:$SPARK_CLASSPATH}" \
      org.apache.spark.scheduler.cluster.k8s.KubernetesExecutorBackend \
      --driver-url "${SPARK_DRIVER_URL}" \
      --executor-id "${SPARK_EXECUTOR_ID}" \
      --cores "${SPARK_EXECUTOR_CORES}" \
      --app-id "${SPARK_APPLICATION_ID}" \
      --hostname "${SPARK_EXECUTOR_POD_IP}" \
      --resourceProfileId "${SPARK_RESOURCE_PROFILE_ID}" \
      --podName "${SPARK_EXECUTOR_POD_NAME}" \
      "$@"
    ;;
  *)
    exec "$@"
    ;;
esac
