"""Facts read from one message: what it states, what it negates, look-alike words."""

from __future__ import annotations

import pytest

from assistant.understanding.facts import (
    AIRGAP,
    extract_profile,
    negated_split,
    read_profile,
    without_negated_facts,
)


@pytest.mark.parametrize(
    ("text", "field", "expected"),
    [
        ("We run everything on EKS in us-east-1", "hosting", ["aws"]),
        ("Our clusters are on AKS", "hosting", ["azure"]),
        ("How do pods read an S3 bucket without keys?", "hosting", ["aws"]),
        ("secrets live in Key Vault today", "hosting", ["azure"]),
        ("We are moving to GKE", "hosting", ["gcp"]),
        ("We have our own data center with bare metal", "hosting", ["on-prem"]),
        ("Kubernetes in 300 retail stores", "hosting", ["edge"]),
        ("a hybrid setup", "hosting", ["hybrid"]),
        ("We rent servers from Hetzner", "hosting", ["hosting-provider"]),
        ("Postgres and Kafka in the cluster", "workloads", ["stateful"]),
        ("nightly batch jobs and ML training jobs on GPUs", "workloads", ["batch", "gpu", "ml"]),
        ("legacy .NET Framework apps on Windows", "workloads", ["windows"]),
        ("Graviton nodes", "workloads", ["arm"]),
        ("We are 3 engineers", "team_size", 3),
        ("a team of five", "team_size", 5),
        ("a small team", "team_size", 3),
        ("We are new to Kubernetes", "k8s_experience", "low"),
        ("our SREs are Kubernetes experts", "k8s_experience", "high"),
        ("We handle card payments under PCI DSS", "compliance", ["pci"]),
        ("HIPAA applies", "compliance", ["hipaa"]),
        ("we are a bank", "compliance", ["bank"]),
        ("GDPR and data residency", "compliance", ["gdpr", "data-residency"]),
        ("tenants are untrusted customers", "isolation", "high"),
        ("we need 99.99% uptime", "availability", "high"),
        ("multi-zone please", "availability", "high"),
        ("best effort is fine", "availability", "low"),
        ("we target 99.9%", "availability", "medium"),
        ("we need it cheap", "budget_sensitivity", "high"),
        ("our cloud costs are too high", "budget_sensitivity", "high"),
        ("clusters in eu-west-1 and westeurope", "regions", ["eu-west-1", "westeurope"]),
    ],
)
def test_extract_profile(text: str, field: str, expected: object) -> None:
    assert getattr(extract_profile(text), field) == expected


def test_nothing_said_means_an_empty_profile() -> None:
    assert extract_profile("How many etcd members should we run?").is_empty()
    assert extract_profile("Which secret stores and data stores fit?").hosting == []


# --------------------------------------------------------------------------- negation


@pytest.mark.parametrize(
    ("text", "field", "absent", "present"),
    [
        # Compliance said not to apply.
        ("We have no compliance requirements at all.", "compliance", ["regulated"], []),
        ("No PCI scope here, but GDPR applies.", "compliance", ["pci"], ["gdpr"]),
        ("We are not regulated and run web apps on GKE.", "compliance", ["regulated"], []),
        ("HIPAA does not apply to us", "compliance", ["hipaa"], []),
        # Hosting taken back, and the contrast kept.
        ("We're not on AWS, we run Azure.", "hosting", ["aws"], ["azure"]),
        ("Not EKS but AKS for us", "hosting", ["aws"], ["azure"]),
        ("Instead of AWS we picked GCP.", "hosting", ["aws"], ["gcp"]),
        ("We moved off on-prem to AKS last year.", "hosting", ["on-prem"], ["azure"]),
        ("We migrated away from our data center and now run on EKS", "hosting", ["on-prem"],
         ["aws"]),
        ("we left bare metal behind; everything is on GKE now", "hosting", ["on-prem"], ["gcp"]),
        ("We are no longer on GCP, we use EKS.", "hosting", ["gcp"], ["aws"]),
        ("We used to run on OpenStack but we've since moved to AWS.", "hosting", ["on-prem"],
         ["aws"]),
        ("GCP is off the table; we're deciding between AKS and on-prem.", "hosting", ["gcp"],
         ["azure", "on-prem"]),
        ("Neither EKS nor GKE: we are on-prem with VMware", "hosting", ["aws", "gcp"],
         ["on-prem"]),
        # Workloads taken back.
        ("no Windows or GPU nodes, just Linux microservices", "workloads", ["windows", "gpu"],
         ["stateless"]),
        ("We don't run any databases in the cluster; everything is stateless",
         "workloads", ["stateful"], ["stateless"]),
        ("We're a bank without any GPUs", "workloads", ["gpu"], []),
        ("Zero GPU usage, mostly Java microservices", "workloads", ["gpu"], ["stateless"]),
        ("Windows containers are not in scope for now.", "workloads", ["windows"], []),
    ],
)
def test_negated_list_facts_are_left_out_and_reported(
    text: str, field: str, absent: list[str], present: list[str]
) -> None:
    reading = read_profile(text)
    values = getattr(reading.profile, field)
    for value in absent:
        assert value not in values, (text, values)
        assert value in getattr(reading.negated, field), (text, reading.negated)
    for value in present:
        assert value in values, (text, values)


@pytest.mark.parametrize(
    ("text", "field", "expected", "ruled_out"),
    [
        ("High availability is not needed for this internal tool.", "availability", "low",
         "high"),
        ("HA isn't a requirement for us", "availability", "low", "high"),
        ("I don't think we need multi-AZ", "availability", "low", "high"),
        ("It's not mission-critical", "availability", "low", "high"),
        ("We need zero downtime", "availability", "high", None),
        ("we cannot go down during trading hours", "availability", "high", None),
        ("cost doesn't matter, we need 99.99%", "budget_sensitivity", "low", "high"),
        ("we don't need strong isolation between our teams", "isolation", None, "high"),
        ("our engineers are not Kubernetes experts", "k8s_experience", "low", "high"),
    ],
)
def test_negated_levels(text: str, field: str, expected: str | None, ruled_out: str | None) -> None:
    reading = read_profile(text)
    assert getattr(reading.profile, field) == expected, text
    assert getattr(reading.negated, field) == ruled_out, text


@pytest.mark.parametrize(
    ("text", "absent", "present"),
    [
        # Azure Resource Manager templates are infrastructure as code, not Arm CPUs.
        ("We deploy everything with ARM templates.", {"workloads": "arm"}, {"hosting": "azure"}),
        ("Our IaC is Bicep and ARM templates", {"workloads": "arm"}, {"hosting": "azure"}),
        ("Should we move from ARM/Bicep to Terraform?", {"workloads": "arm"}, {}),
        ("We want Arm nodes to save cost", {}, {"workloads": "arm"}),
        # Edge as an adjective is not edge hosting.
        ("We're a cutting-edge fintech startup on AKS", {"hosting": "edge"},
         {"compliance": "bank"}),
        ("Bleeding edge features worry us", {"hosting": "edge"}, {}),
        ("How do we handle edge cases in autoscaling?", {"hosting": "edge"}, {}),
        ("We run k3s at the edge in 200 stores", {}, {"hosting": "edge"}),
    ],
)
def test_look_alike_words(
    text: str, absent: dict[str, str], present: dict[str, str]
) -> None:
    profile = extract_profile(text)
    for field, value in absent.items():
        assert value not in getattr(profile, field), (text, profile)
    for field, value in present.items():
        assert value in getattr(profile, field), (text, profile)


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("We are 15 developers and 2 ops people.", 2),
        ("40 product engineers, and a platform team of 3", 3),
        ("Our SRE team of 4 supports 60 developers", 4),
        ("two SREs and twenty developers", 2),
        ("We have 15 developers.", None),
        ("12 software engineers build the product", None),
        ("a 5-person platform team", 5),
        ("We are 3 engineers", 3),
        ("We have 25 engineers in total; 4 of them run the clusters.", 4),
        ("Our devs (about 40 of them) ship to a platform run by 3 SREs.", 3),
    ],
)
def test_the_platform_team_is_not_the_product_developers(text: str, size: int | None) -> None:
    assert extract_profile(text).team_size == size


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("No Windows or GPU nodes here. How should we lay out node pools?",
         "No or nodes here. How should we lay out node pools?"),
        ("We're not on AWS, we run Azure", "We're not on , we run Azure"),
        ("We are no longer air-gapped. Which registry?", "We are no longer . Which registry?"),
        # Negated words that are not profile facts are often the topic: they stay.
        ("devs want own CRDs, no cluster-admin", "devs want own CRDs, no cluster-admin"),
        ("We don't use Vault; where do secrets go?", "We don't use Vault; where do secrets go?"),
    ],
)
def test_search_drops_only_negated_profile_facts(text: str, expected: str) -> None:
    assert without_negated_facts(text) == expected


def test_edge_boxes_are_edge_and_scarce_gpus_are_still_gpus() -> None:
    assert extract_profile("Our edge boxes sit in shops").hosting == ["edge"]
    assert extract_profile("We can't get H100 capacity in our region").workloads == ["gpu"]


@pytest.mark.parametrize(
    ("text", "kept", "negated"),
    [
        ("We don't use Vault; where do secrets go?", "We ; where do secrets go?", "use Vault"),
        ("No Windows or GPU nodes here. How should we lay out node pools?",
         ". How should we lay out node pools?", "Windows or GPU nodes here"),
        # A negation that is the fact's own wording asks for the fact: nothing is taken out.
        ("Payments must never go down. How many zones?",
         "Payments must never go down. How many zones?", ""),
        ("We need zero downtime upgrades", "We need zero downtime upgrades", ""),
    ],
)
def test_card_matching_drops_every_negated_stretch_but_fact_wording(
    text: str, kept: str, negated: str
) -> None:
    assert negated_split(text) == (kept, negated)


@pytest.mark.parametrize(
    ("text", "cloud"),
    [
        ("Every database is on RDS. Can our nodes move to spot instances?", "aws"),
        ("Our analytics live in BigQuery and Cloud SQL. How should we autoscale?", "gcp"),
        ("The app keeps its state in Cosmos DB. Which ingress should we use?", "azure"),
    ],
)
def test_a_service_only_one_cloud_sells_implies_that_cloud(text: str, cloud: str) -> None:
    assert read_profile(text).profile.hosting == [cloud]
    assert read_profile(text, infer_services=False).profile.hosting == []


def test_named_hosting_wins_over_a_managed_service_and_a_negated_service_implies_nothing(
) -> None:
    assert read_profile("We run on-prem but our reports go to RDS.").profile.hosting == [
        "on-prem"]
    assert read_profile("We don't use RDS or any cloud database.").profile.hosting == []


def test_what_a_question_asks_whether_we_need_is_no_fact() -> None:
    reading = read_profile(
        "No GDPR scope here; we only serve customers in Texas. "
        "Is a sovereign cloud offering worth paying for?"
    )
    assert reading.profile.compliance == []
    assert reading.negated.compliance == ["gdpr"]
    assert read_profile("Data must stay in the EU. Do we need a sovereign cloud?"
                        ).profile.compliance == ["data-residency"]


@pytest.mark.parametrize(
    ("text", "field", "present", "absent"),
    [
        ("We don't use OVH, AWS or Azure; it's all our own servers", "hosting", ["on-prem"],
         ["aws", "azure", "hosting-provider"]),
        ("No SOX, PCI or HIPAA scope for this product line", "compliance", [],
         ["sox", "pci", "hipaa"]),
        ("We will not, at least this year, run Windows or GPU nodes", "workloads", [],
         ["windows", "gpu"]),
        ("We used to rent racks at a colo in Paris; since March everything is on GKE",
         "hosting", ["gcp"], ["hosting-provider"]),
        ("Our OpenStack cloud is being retired and the apps are moving to Azure", "hosting",
         ["azure"], ["on-prem"]),
        ("We trialled GKE but went with AKS", "hosting", ["azure"], ["gcp"]),
        ("We're switching from OpenShift on VMware to EKS", "hosting", ["aws"], ["on-prem"]),
        ("Nothing in the cluster is stateful - Postgres runs on Aurora", "workloads", [],
         ["stateful"]),
        # A swap turns down a product, not the situation stated elsewhere.
        ("On our AKS clusters we want Calico rather than the Azure CNI", "hosting", ["azure"],
         []),
        # "not yet, but": planned, so it is part of the situation to plan for.
        ("No batch jobs yet, but nightly ETL lands next month", "workloads", ["batch"], []),
        # Look-alike: the desktops people use are not the cluster's workloads.
        ("Staff use Windows laptops; all services are Linux containers", "workloads", [],
         []),
    ],
)
def test_negation_structure_in_the_profile(
    text: str, field: str, present: list[str], absent: list[str]
) -> None:
    reading = read_profile(text)
    said = getattr(reading.profile, field)
    for value in present:
        assert value in said, (text, reading)
    for value in absent:
        assert value not in said, (text, reading)
    if "laptops" in text:
        assert "windows" not in said and "windows" not in getattr(reading.negated, field)


@pytest.mark.parametrize(
    ("text", "level"),
    [
        ("None of us has ever run a Kubernetes cluster", "low"),
        ("We're two devs without much k8s experience", "low"),
        ("Nobody here has Kubernetes experience", "low"),
        ("We have operated Kubernetes on bare metal for five years", "high"),
        ("We've run k8s in production for several years", "high"),
        ("We have run Kubernetes before", None),
    ],
)
def test_experience_from_who_has_run_kubernetes(text: str, level: str | None) -> None:
    assert read_profile(text).profile.k8s_experience == level


def test_cannot_ever_go_down_is_high_availability() -> None:
    assert read_profile("The ledger can't ever go down").profile.availability == "high"


def test_without_internet_is_air_gapped() -> None:
    assert AIRGAP.search("the mine's clusters run without internet access")


def test_structure_off_reads_a_list_under_one_cue_as_said() -> None:
    text = "We don't use OVH, AWS or Azure"
    assert "azure" in read_profile(text, structured=False).profile.hosting
    assert "azure" in read_profile(text).negated.hosting
