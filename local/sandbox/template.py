"""template.yaml as the sandbox reads it: decoded with cfn-lint's CloudFormation YAML decoder
(it knows !Sub, !GetAtt and the other tags), with the state machine's definition read from its
DefinitionUri file (statemachine/ferry.asl.yaml) and its ${...} substitutions resolved from a
fixed map of sandbox names, so that the definition the sandbox runs is the one SAM deploys."""

import json
import os
import re
import sys

import yaml
from cfnlint.decode import decode

SUBSTITUTION = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


def load(path: str) -> dict:
    """The decoded template, its state machine's definition inlined from DefinitionUri (a path
    relative to the template, as `sam package` reads it) as Definition."""
    template, matches = decode(path)
    if matches:
        raise ValueError(f"{path}: {'; '.join(str(m) for m in matches)}")
    _, sm = state_machine(template)
    props = sm["Properties"]
    uri = props.pop("DefinitionUri", None)
    if uri is not None:
        if not isinstance(uri, str) or uri.startswith("s3://"):
            raise ValueError(f"{path}: DefinitionUri must be a local file, not {uri!r}")
        if "Definition" in props:
            raise ValueError(f"{path}: the state machine has both Definition and DefinitionUri")
        with open(os.path.join(os.path.dirname(os.path.abspath(path)), uri)) as f:
            props["Definition"] = yaml.safe_load(f)
        props["DefinitionFile"] = uri
    return template


def state_machine(template: dict) -> tuple[str, dict]:
    """The (logical id, resource) of the template's one state machine."""
    found = [
        (name, r)
        for name, r in template["Resources"].items()
        if r["Type"] in ("AWS::Serverless::StateMachine", "AWS::StepFunctions::StateMachine")
    ]
    if len(found) != 1:
        raise ValueError(f"expected one state machine, found {len(found)}")
    return found[0]


def substitution_names(template: dict) -> list[str]:
    _, sm = state_machine(template)
    return sorted(sm["Properties"].get("DefinitionSubstitutions", {}))


def definition(template: dict, values: dict[str, str] | None = None) -> dict:
    """The definition with every ${Name} replaced by values[Name] (left as it is when values is
    None). A name the template does not declare, or that values lacks, is an error."""
    _, sm = state_machine(template)
    declared = set(sm["Properties"].get("DefinitionSubstitutions", {}))
    text = json.dumps(sm["Properties"]["Definition"])

    def replace(m: re.Match) -> str:
        name = m.group(1)
        if name not in declared:
            raise ValueError(f"${{{name}}} is used in the definition but not in DefinitionSubstitutions")
        if values is None:
            return m.group(0)
        if name not in values:
            raise ValueError(f"no sandbox value for ${{{name}}}")
        return values[name]

    return json.loads(SUBSTITUTION.sub(replace, text))


def inline_policies(template: dict) -> dict[str, dict]:
    """Every identity policy the template writes (functions' Policies statements, roles' inline
    policies, managed policies), resolved for each side with the sandbox's accounts, by file
    name. SAM policy templates (SQSSendMessagePolicy, ...) are AWS's own and left out."""
    from .launcher import Resolver  # the launcher imports this module

    out: dict[str, dict] = {}
    for side in ("destination", "source"):
        res = Resolver(template, side)
        for logical, r in template["Resources"].items():
            if not res.included(r):
                continue
            p = r.get("Properties", {})
            docs: list[dict] = []
            if r["Type"] == "AWS::Serverless::Function":
                docs = [
                    {"Version": "2012-10-17", "Statement": item["Statement"]}
                    for item in p.get("Policies", [])
                    if isinstance(item, dict) and "Statement" in item
                ]
            elif r["Type"] == "AWS::IAM::Role":
                docs = [pol["PolicyDocument"] for pol in p.get("Policies", [])]
            elif r["Type"] == "AWS::IAM::ManagedPolicy":
                docs = [p["PolicyDocument"]]
            for n, doc in enumerate(docs):
                out[f"template-{side}-{logical}-{n}.json"] = res.value(doc)
    return out


def main(argv: list[str]) -> int:
    """`python -m sandbox.template TEMPLATE OUT`: writes the definition (substitutions left as
    they are) to OUT as JSON, for statelint. With `--decoded` first, writes the whole decoded
    template instead (intrinsics as {"Fn::Sub": ...} objects), for the Rust template test. With
    `--policies TEMPLATE DIR`, writes every inline identity policy into DIR, for parliament."""
    if argv[1] == "--decoded":
        with open(argv[3], "w") as f:
            json.dump(load(argv[2]), f, indent=2, default=str)
        return 0
    if argv[1] == "--policies":
        import os

        os.makedirs(argv[3], exist_ok=True)
        for name, doc in inline_policies(load(argv[2])).items():
            with open(os.path.join(argv[3], name), "w") as f:
                json.dump(doc, f, indent=2)
        return 0
    template_path, out = argv[1], argv[2]
    with open(out, "w") as f:
        json.dump(definition(load(template_path)), f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
