"""The local stack's configuration: versions pinned in one file, ports overridable and checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from localstack.components import hadoop_xml
from localstack.config import DEFAULT_PORTS, StackConfig, read_ports, read_versions


def test_ports_default_and_follow_environment_overrides():
    assert read_ports({}) == DEFAULT_PORTS
    ports = read_ports({"CONTINUUM_KAFKA_PORT": "29092"})
    assert ports["KAFKA"] == 29092
    assert ports["MLFLOW"] == DEFAULT_PORTS["MLFLOW"]


@pytest.mark.parametrize("value", ["kafka", "0", "70000", "-1", ""])
def test_a_port_that_is_no_port_is_rejected_with_its_variable(value: str):
    with pytest.raises(ValueError, match="CONTINUUM_KAFKA_PORT"):
        read_ports({"CONTINUUM_KAFKA_PORT": value})


def test_two_components_on_one_port_are_rejected_naming_both():
    with pytest.raises(ValueError, match="CONTINUUM_MLFLOW_PORT and CONTINUUM_KAFKA_PORT"):
        read_ports({"CONTINUUM_MLFLOW_PORT": str(DEFAULT_PORTS["KAFKA"])})


def test_versions_file_is_parsed_without_comments(tmp_path: Path):
    versions = tmp_path / "versions.env"
    versions.write_text("# pinned\nKAFKA_VERSION=4.1.1\n\n HADOOP_VERSION = 3.4.1 \n")
    assert read_versions(versions) == {"KAFKA_VERSION": "4.1.1", "HADOOP_VERSION": "3.4.1"}


def test_the_repository_pins_every_version_the_stack_needs():
    assert {
        "KUBE_VERSION",
        "ETCD_VERSION",
        "KWOK_VERSION",
        "KAFKA_VERSION",
        "HADOOP_VERSION",
    } <= set(read_versions())


def test_stack_and_cache_directories_follow_the_environment(tmp_path: Path):
    config = StackConfig.from_env(
        {"CONTINUUM_STACK_DIR": str(tmp_path / "s"), "XDG_CACHE_HOME": str(tmp_path / "c")}
    )
    assert config.stack_dir == tmp_path / "s"
    assert config.cache_dir == tmp_path / "c" / "continuum"
    assert config.kube_bin_dir.parent.parent == tmp_path / "c" / "continuum"


def test_services_are_addressed_on_the_node_when_pods_must_reach_them():
    on_node = StackConfig.from_env({"CONTINUUM_NODE_IP": "192.0.2.7"})
    assert on_node.service_host == "192.0.2.7"
    assert on_node.url("HDFS_NAMENODE", scheme="hdfs") == "hdfs://192.0.2.7:19000"
    assert on_node.client_env()["KAFKA_BOOTSTRAP_SERVERS"] == "192.0.2.7:19092"
    fake_only = StackConfig.from_env({"CONTINUUM_REAL_NODE": "0", "CONTINUUM_NODE_IP": "192.0.2.7"})
    assert fake_only.url("MLFLOW") == "http://127.0.0.1:15000"


def test_hadoop_configuration_is_written_as_property_elements():
    assert hadoop_xml({"dfs.replication": "1"}) == (
        '<?xml version="1.0"?>\n<configuration>\n'
        "  <property><name>dfs.replication</name><value>1</value></property>\n"
        "</configuration>\n"
    )
