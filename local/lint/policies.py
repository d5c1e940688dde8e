"""parliament on every policy ferry writes: the ones ferry-core renders (target/policies) and the
template's inline policies (python -m sandbox.template --policies). A finding fails the check
unless ACCEPTED lists it for that file, with the reason it stands.

    python -m lint.policies DIR [DIR ...]
"""

import fnmatch
import os
import sys

from parliament import analyze_policy_string, enhance_finding

# (file pattern, parliament issue, text the finding's detail contains) -> why the finding stands. Keep it short; every entry is read
# by whoever reviews a change to it.
ACCEPTED = {
    ("*-trust.json", "MALFORMED", "neither Resource nor NotResource"): (
        "a trust policy is a resource policy on the role and has no Resource element; "
        "parliament lints identity policies"
    ),
    ("template-source-SourceAccessFunction-*.json", "RESOURCE_POLICY_PRIVILEGE_ESCALATION", ""): (
        "writing bucket policies is source-access's job (it merges ferry's grants beside the "
        "foreign statements and removes them again); it is limited to SourceBuckets in its own "
        "account, and only the state machine roles of DestinationAccountIds may invoke it"
    ),
    ("template-source-SourceAccessFunction-*.json", "UNKNOWN_CONDITION_FOR_ACTION", "kms:Grant"): (
        "one statement holds CreateGrant, ListGrants and RevokeGrant so that the listed keys appear "
        "once (the role's inline policies are near IAM's 10,240 characters); KMS sets "
        "kms:GrantOperations and kms:GranteePrincipal on CreateGrant only, and the statement tests "
        "them with ForAllValues and IfExists, both true when the key is absent (KMS Developer "
        "Guide, conditions-kms), so they limit CreateGrant and leave the other two as they are"
    ),
    ("template-destination-PlanFunction-*.json", "RESOURCE_MISMATCH", "states:DescribeExecution"): (
        "parliament's data lists only the express-execution ARN for DescribeExecution; AWS's "
        "service authorization reference lists the standard one (execution:<machine>:<id>) too, "
        "which is what ferry's standard state machine has"
    ),
    ("template-destination-PlanFunction-*.json", "RESOURCE_MISMATCH", "states:ListExecutions"): (
        "the same mismatch as cleanup-start's below: plan lists the RUNNING executions of the "
        "ferry state machine (stateMachine:ferry), ListExecutions' second resource type"
    ),
    ("template-destination-CleanupStartFunction-*.json", "RESOURCE_MISMATCH", "states:DescribeExecution"): (
        "as plan's: parliament's data lists only the express-execution ARN for DescribeExecution; "
        "cleanup-start describes the standard executions of the ferry state machine"
    ),
    ("template-destination-CleanupStartFunction-*.json", "RESOURCE_MISMATCH", "states:ListExecutions"): (
        "parliament's own data gives ListExecutions two resource types, mapRun* and "
        "stateMachine*, and its check matches the first only; cleanup-start lists the executions "
        "of the ferry state machine (stateMachine:ferry), the second"
    ),
}


def accepted(name: str, issue: str, detail: str) -> str | None:
    for (pattern, code, text), reason in ACCEPTED.items():
        if fnmatch.fnmatch(name, pattern) and code == issue and text in detail:
            return reason
    return None


def main(dirs: list[str]) -> int:
    files = sorted(os.path.join(d, f) for d in dirs for f in os.listdir(d) if f.endswith(".json"))
    if not files:
        print("no policies found in " + ", ".join(dirs))
        return 1
    failed = 0
    waived: dict[tuple[str, str], str] = {}
    for path in files:
        name = os.path.basename(path)
        with open(path) as f:
            policy = analyze_policy_string(f.read(), filepath=name)
        for finding in map(enhance_finding, policy.findings):
            reason = accepted(name, finding.issue, str(finding.detail))
            if reason:
                waived[(name, finding.issue)] = reason
                continue
            failed += 1
            print(f"{path}: {finding.severity} {finding.issue}: {finding.title} {finding.detail} {finding.location}")
    for (name, issue), reason in sorted(waived.items()):
        print(f"accepted: {name}: {issue} ({reason})")
    print(f"parliament: {failed} findings in {len(files)} policies ({len(waived)} accepted, listed above)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
