// How stored metric records (prompt sets, adaptors, training results) read in tables: headline
// metrics first with plain names, interval bounds and counts kept out of the comparison columns.
const LABELS: Record<string, string> = {
  accuracy: 'Accuracy',
  balancedAccuracy: 'Balanced accuracy',
  macroAuc: 'Macro AUC',
  auc: 'AUC',
  ece: 'ECE',
  loss: 'Loss',
  n: 'Images',
  recallAt1ImageToText: 'Recall@1 image→text',
  recallAt5ImageToText: 'Recall@5 image→text',
  recallAt1TextToImage: 'Recall@1 text→image',
  recallAt5TextToImage: 'Recall@5 text→image',
};
const ORDER = [
  'accuracy',
  'balancedAccuracy',
  'macroAuc',
  'auc',
  'recallAt1ImageToText',
  'recallAt5ImageToText',
  'recallAt1TextToImage',
  'recallAt5TextToImage',
  'ece',
  'loss',
];

export function metricLabel(key: string): string {
  return LABELS[key] ?? key;
}

/** Keys worth a column: not interval bounds (…Low/…High) nor the count, known ones first. */
export function headlineMetrics(keys: Iterable<string>): string[] {
  const unique = [...new Set(keys)].filter((k) => !/(Low|High)$/.test(k) && k !== 'n');
  const rank = (k: string): number => (ORDER.includes(k) ? ORDER.indexOf(k) : ORDER.length);
  return unique.sort((a, b) => rank(a) - rank(b));
}

export function formatMetric(key: string, v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  if (key === 'n') return String(Math.round(v));
  return Math.abs(v) <= 1 ? v.toFixed(3) : v.toFixed(2);
}

/** "0.62 (95% CI 0.51–0.74)" when the record holds the bounds, else the value alone. */
export function withInterval(record: Record<string, number | null> | null | undefined, key: string): string {
  const v = record?.[key];
  const lo = record?.[`${key}Low`];
  const hi = record?.[`${key}High`];
  const base = formatMetric(key, v);
  return typeof lo === 'number' && typeof hi === 'number' ? `${base} (95% CI ${formatMetric(key, lo)}–${formatMetric(key, hi)})` : base;
}
