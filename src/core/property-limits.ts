/**
 * Bounds of one message's properties, in entries and in bytes. Bytes are counted as RocketMQ
 * serializes properties, `name \u0001 value \u0002` per entry in UTF-8: RocketMQ's broker refuses a
 * properties string longer than a Java short (32767), and DDMQ's batch encoder refuses the same
 * bound, so the defaults refuse nothing a RocketMQ cluster behind DDMQ could store.
 */
export interface PropertyLimits {
  readonly maxCount: number;
  readonly maxBytes: number;
}

/** RocketMQ's bound of a message's properties string: Short.MAX_VALUE. */
export const DEFAULT_MAX_PROPERTIES_BYTES = 32_767;

/**
 * The most entries that fit in DDMQ's bound with names and values of one byte (blank ones are
 * illegal): 8191, so the count never refuses what the byte bound lets through.
 */
export const DEFAULT_MAX_PROPERTIES_PER_MESSAGE = Math.floor(DEFAULT_MAX_PROPERTIES_BYTES / 4);

export const DEFAULT_PROPERTY_LIMITS: PropertyLimits = {
  maxCount: DEFAULT_MAX_PROPERTIES_PER_MESSAGE,
  maxBytes: DEFAULT_MAX_PROPERTIES_BYTES,
};

/** The separators one entry adds to its name and value in RocketMQ's properties string. */
export const PROPERTY_SEPARATOR_BYTES = 2;
