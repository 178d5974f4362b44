"""Every exported file passes IfcOpenShell's validation with express (WHERE) rules, in every IFC version.

On the sample iModels and on iModels synchronized from the sample IFC files (round trip). Express rules take
seconds per file in Python, so every file is exported first and validated once, in worker processes while
the next files export; the round trip is checked in one version per schema ("IFC2x3" and "IFC2x3 CV 2.0"
differ only in the header's view definition).
"""

from __future__ import annotations

import multiprocessing
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any, cast

import ifcopenshell
import pytest

from tests.conftest import SAMPLE_IFC, SAMPLE_IMODELS
from tests.integration.engines.conftest import ExportFunction
from twinbridge.engines.connectors import synchronize_ifc
from twinbridge.engines.ifc import IFC_VERSIONS, ExportSummary, validate_ifc
from twinbridge.engines.imodel import EnginePool

VERSIONS = list(IFC_VERSIONS)
ONE_VERSION_PER_SCHEMA = ["IFC4.3", "IFC4 RV 1.2", "IFC2x3 CV 2.0"]
IMODEL_FILES = sorted(path for path in SAMPLE_IMODELS.iterdir() if path.suffix in (".bim", ".ibim"))
SAMPLE_IFC_FILES = sorted(SAMPLE_IFC.glob("*.ifc"))
Exports = dict[tuple[Path, str], tuple[Path, ExportSummary, "Future[list[dict[str, Any]]]"]]


def express_rule_errors(path: Path) -> list[dict[str, Any]]:
    return validate_ifc(path, express_rules=True)


@pytest.fixture(scope="module")
def validated(
    tmp_path_factory: pytest.TempPathFactory, engine_pool: EnginePool, exported: ExportFunction
) -> Iterator[Exports]:
    """(source, version) -> exported file, summary and its pending validation, for every test here.

    The sources are the sample iModels and each sample IFC file synchronized once into an empty iModel.
    """
    directory = tmp_path_factory.mktemp("express-round-trip")
    spawn = multiprocessing.get_context("spawn")  # no fork of a process that runs engine threads
    with ProcessPoolExecutor(2, mp_context=spawn) as validators:
        exports: Exports = {}

        def export_and_validate(key: Path, imodel: Path, ifc_version: str) -> None:
            path, summary = exported(imodel, ifc_version)
            exports[key, ifc_version] = (path, summary, validators.submit(express_rule_errors, path))

        for sample in IMODEL_FILES:
            for ifc_version in VERSIONS:
                export_and_validate(sample, sample, ifc_version)
        for source in SAMPLE_IFC_FILES:
            imodel = directory / f"{source.stem}.bim"
            synchronize_ifc([source], None, imodel, engine_pool, file_keys=["main"])
            for ifc_version in ONE_VERSION_PER_SCHEMA:
                export_and_validate(source, imodel, ifc_version)
        yield exports


@pytest.mark.parametrize("ifc_version", VERSIONS)
@pytest.mark.parametrize("sample", IMODEL_FILES, ids=lambda path: path.stem[:24])
def test_every_sample_imodel_exports_to_a_file_that_meets_the_express_rules(
    validated: Exports, sample: Path, ifc_version: str
) -> None:
    path, summary, errors = validated[sample, ifc_version]

    assert errors.result() == []
    model = ifcopenshell.open(str(path))
    assert [proxy.GlobalId for proxy in model.by_type("IfcBuildingElementProxy") if not proxy.Name] == []
    assert summary.entity_substitutions == []


@pytest.mark.parametrize("ifc_version", ONE_VERSION_PER_SCHEMA)
@pytest.mark.parametrize("source", SAMPLE_IFC_FILES, ids=lambda path: path.stem[:24])
def test_every_round_tripped_sample_ifc_meets_the_express_rules_and_names_every_class_it_changed(
    validated: Exports, source: Path, ifc_version: str
) -> None:
    path, summary, errors = validated[source, ifc_version]

    assert errors.result() == []
    model = ifcopenshell.open(str(path))
    original = ifcopenshell.open(str(source))
    # Written from the IFC record: a product or spatial element keeps its class, or the change is named.
    changed: Counter[tuple[str, str]] = Counter()
    for product in original.by_type("IfcProduct"):
        try:
            copy = model.by_guid(product.GlobalId)
        except RuntimeError:
            continue  # not imported (the connector names it)
        if copy.is_a() != product.is_a():
            changed[product.is_a(), copy.is_a()] += 1
    named: Counter[tuple[str, str]] = Counter(
        cast(tuple[str, str], tuple(entry.partition(": ")[2].split(" written as ")))
        for entry in summary.entity_substitutions
    )
    assert changed - named == Counter()
