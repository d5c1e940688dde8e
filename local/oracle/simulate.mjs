// The oracle: reads a JSON array of cases (file in argv[2]), answers each with
// @cloud-copilot/iam-simulate's overall result, writes a JSON array to argv[3].
// A case: { principal, action, resource, resourceAccount, context, identityPolicies,
// boundary, resourcePolicy }.
import { readFileSync, writeFileSync } from 'node:fs';
import { runSimulation } from '@cloud-copilot/iam-simulate';

const cases = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const out = [];
for (const c of cases) {
  const simulation = {
    request: {
      principal: c.principal,
      action: c.action,
      resource: { resource: c.resource, accountId: c.resourceAccount },
      contextVariables: c.context,
    },
    identityPolicies: (c.identityPolicies || []).map((policy, i) => ({ name: `identity-${i}`, policy })),
    serviceControlPolicies: [],
    resourceControlPolicies: [],
  };
  if (c.resourcePolicy) simulation.resourcePolicy = c.resourcePolicy;
  if (c.boundary) simulation.permissionBoundaryPolicies = [{ name: 'boundary', policy: c.boundary }];
  try {
    const r = await runSimulation(simulation, {});
    if (r.errors) out.push({ result: 'Error', detail: JSON.stringify(r.errors).slice(0, 400) });
    else out.push({ result: r.overallResult });
  } catch (e) {
    out.push({ result: 'Error', detail: String(e).slice(0, 400) });
  }
}
writeFileSync(process.argv[3], JSON.stringify(out));
