// A one-line progress bar with ETA for long CLI work; plain lines when not on a terminal.
import type { Job } from '../../common/jobs';

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

export function renderBar(fraction: number, width = 28): string {
  const filled = Math.round(Math.min(1, Math.max(0, fraction)) * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
}

export function jobProgressLine(job: Job): string {
  const pct = `${(job.progress.fraction * 100).toFixed(1).padStart(5)}%`;
  const eta = job.progress.etaSeconds === null ? '' : `  ETA ${formatDuration(job.progress.etaSeconds)}`;
  return `${renderBar(job.progress.fraction)} ${pct}  ${job.progress.message}${eta}`;
}

export class ProgressPrinter {
  private lastPlain = 0;
  constructor(private readonly stream: NodeJS.WriteStream = process.stderr) {}

  update(line: string): void {
    if (this.stream.isTTY) {
      this.stream.write(`\r\x1b[2K${line.slice(0, (this.stream.columns ?? 120) - 1)}`);
    } else if (Date.now() - this.lastPlain > 2000) {
      this.lastPlain = Date.now();
      this.stream.write(`${line}\n`);
    }
  }

  done(line?: string): void {
    if (this.stream.isTTY) this.stream.write('\r\x1b[2K');
    if (line) this.stream.write(`${line}\n`);
  }
}
