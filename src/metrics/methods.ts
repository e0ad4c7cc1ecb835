/** The Thrift methods, as the method label spells them; per-method children are indexed in this order. */
export const METHODS = ['sendSync', 'sendAsync', 'sendBatchSync', 'sendDelaySync'] as const;
export type Method = (typeof METHODS)[number];
