// A job's device record as facts for the Jobs drawer: the provider that ran, why (auto's fallbacks
// with their reasons), and per graph where it ran, whether every node was on it and whether the
// provider repeats its bits. Read leniently: results of older versions have no record.
import { DeviceRunRecord } from '../../../common/device';
import type { JobFact } from './jobs';

function graphsLine(d: DeviceRunRecord): string {
  // Graphs that ran alike are named together: "forward, train_step, optimizer: cpu, every node, deterministic".
  const groups = new Map<string, string[]>();
  for (const [name, g] of Object.entries(d.graphs)) {
    const nodes =
      g.allNodesOnProvider === true ? 'every node' : g.allNodesOnProvider === false ? 'some nodes on the CPU' : 'placement not checked';
    const det = g.deterministic === undefined ? null : g.deterministic ? 'deterministic' : 'not deterministic';
    const key = [g.provider, nodes, det].filter((x) => x !== null).join(', ');
    groups.set(key, [...(groups.get(key) ?? []), name]);
  }
  return [...groups].map(([how, names]) => `${names.join(', ')}: ${how}`).join(' · ');
}

function factsOf(d: DeviceRunRecord, prefix: string): JobFact[] {
  const facts: JobFact[] = [
    { label: `${prefix}Ran on`, value: d.requested === d.provider ? d.provider : `${d.provider} (asked: ${d.requested})` },
    { label: `${prefix}Why`, value: d.reason },
  ];
  if (Object.keys(d.graphs).length) facts.push({ label: `${prefix}Graphs`, value: graphsLine(d) });
  const determinism = Object.values(d.graphs).find((g) => g.determinism)?.determinism;
  if (determinism) facts.push({ label: `${prefix}Determinism`, value: determinism });
  return facts;
}

/** The device facts of a job's result (the demo's two trainings each), or none. */
export function deviceFacts(result: unknown): JobFact[] {
  const device = typeof result === 'object' && result !== null ? (result as { device?: unknown }).device : undefined;
  const one = DeviceRunRecord.safeParse(device);
  if (one.success) return factsOf(one.data, '');
  const demo = device as { contrastive?: unknown; prompt?: unknown } | undefined;
  const facts: JobFact[] = [];
  for (const [key, prefix] of [
    ['contrastive', 'LoRA: '],
    ['prompt', 'Prompts: '],
  ] as const) {
    const r = DeviceRunRecord.safeParse(demo?.[key]);
    if (r.success) facts.push(...factsOf(r.data, prefix));
  }
  return facts;
}
