/** Notice metrics: every win, billing, loss, impression, click and conversion call, by result. */
import { Counter, type Registry } from 'prom-client';
import { NOTICE_REJECTIONS, NOTICE_TYPES } from '../events/notices.js';

export const NOTICE_RESULTS = ['accepted', 'duplicate', 'price_missing', 'unknown_exchange', ...NOTICE_REJECTIONS] as const;
export type NoticeResult = (typeof NOTICE_RESULTS)[number];

export class NoticeMetrics {
  readonly notices: Counter<'type' | 'result'>;
  constructor(registry: Registry) {
    this.notices = new Counter({
      name: 'notices_total',
      help: 'Notice calls by type (win, billing, loss, impression, click, conversion) and result (accepted, duplicate, or why refused; price_missing: accepted, but the exchange did not fill in the price macro).',
      labelNames: ['type', 'result'],
      registers: [registry],
    });
    for (const t of [...NOTICE_TYPES, 'conversion']) for (const r of NOTICE_RESULTS) this.notices.labels(t, r);
  }
  count(type: string, result: NoticeResult): void {
    this.notices.labels(type, result).inc();
  }
}
