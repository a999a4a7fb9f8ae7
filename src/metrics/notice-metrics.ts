/** Notice metrics: every win, billing, loss, impression, click and conversion call, by result. */
import { Counter, type Registry } from 'prom-client';
import { NOTICE_REJECTIONS, NOTICE_TYPES } from '../events/notices.js';

export const NOTICE_RESULTS = ['accepted', 'duplicate', 'price_missing', 'unknown_exchange', 'unknown_type', 'shutting_down', 'not_durable', ...NOTICE_REJECTIONS] as const;
export type NoticeResult = (typeof NOTICE_RESULTS)[number];

export class NoticeMetrics {
  readonly notices: Counter<'type' | 'result'>;
  constructor(registry: Registry) {
    this.notices = new Counter({
      name: 'notices_total',
      help: 'Notice calls by type (win, billing, loss, impression, click, conversion; unknown: a /notice/ path naming no notice type, result unknown_type) and result (accepted, duplicate, or why refused; price_missing: accepted, but the exchange did not fill in the price macro; shutting_down: refused with 503 while the process stops, to be retried elsewhere; not_durable: a billing or conversion refused with 503 because its event could not be written durably, to be retried).',
      labelNames: ['type', 'result'],
      registers: [registry],
    });
    for (const t of [...NOTICE_TYPES, 'conversion']) for (const r of NOTICE_RESULTS) if (r !== 'unknown_type') this.notices.labels(t, r);
    this.notices.labels('unknown', 'unknown_type');
  }
  count(type: string, result: NoticeResult): void {
    this.notices.labels(type, result).inc();
  }
}
