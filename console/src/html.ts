/** Preact's `h` as tagged templates (htm): components read like HTML and need no JSX build step. */
import { h, type VNode } from 'preact';
import htm from 'htm';

export const html = htm.bind(h) as (strings: TemplateStringsArray, ...values: unknown[]) => VNode | VNode[];
