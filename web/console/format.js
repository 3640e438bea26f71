// How the console writes numbers, money, durations, times and long ids in
// tables and labels. Pure functions of their argument; a missing value
// reads as 0 (counts, cost) or as a dash (durations, times).
//
//   import { fmtInt, fmtUsd } from './format.js';

export const fmtInt = (v) => (Number(v) || 0).toLocaleString('en-US');
export const fmtUsd = (v) => {
  const n = Number(v) || 0;
  if (n === 0) return '$0';
  return n >= 0.01 ? `$${n.toFixed(4)}` : `$${n.toPrecision(3)}`;
};
export const fmtMs = (v) => (v === undefined || v === null ? '–' : `${Number(v).toFixed(1)} ms`);
export const fmtTime = (unixSeconds) => (unixSeconds ? new Date(unixSeconds * 1000).toLocaleString() : '–');
export const shortId = (id) => (id && id.length > 14 ? id.slice(0, 12) + '…' : id || '');
