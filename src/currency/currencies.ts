/**
 * Currency conversion from the configured table: `rates[X]` is how many X one unit of the
 * base currency buys. Unknown currencies convert to NaN, which every price check refuses.
 */
import type { CurrencyTable } from '../campaigns/schema.js';

export class Currencies {
  readonly base: string;
  private readonly rates: Map<string, number>;

  constructor(table: CurrencyTable | undefined) {
    this.base = table?.base ?? 'USD';
    this.rates = new Map(Object.entries(table?.rates ?? {}));
    this.rates.set(this.base, 1);
  }

  has(currency: string): boolean {
    return this.rates.has(currency);
  }

  convert(amount: number, from: string, to: string): number {
    if (from === to) return amount;
    const f = this.rates.get(from);
    const t = this.rates.get(to);
    return f === undefined || t === undefined ? NaN : (amount / f) * t;
  }
}
