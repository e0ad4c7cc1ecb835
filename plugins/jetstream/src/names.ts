/**
 * Where a DDMQ topic lives in JetStream: one stream per topic, one subject per partition.
 *
 * A DDMQ topic name may hold any character, while a stream name refuses `.`, `*`, `>`, path
 * separators and whitespace (it is also a directory name on the server) and a subject token refuses
 * `.`, `*`, `>` and whitespace. Every character outside `[A-Za-z0-9_-]` is therefore written as
 * `%XX` per UTF-8 byte (`%` itself included), which keeps usual topic names unchanged and never
 * maps two topics to one stream.
 */
export function escapeTopic(topic: string): string {
  let escaped = '';
  for (const char of topic) {
    if (/^[A-Za-z0-9_-]$/.test(char)) {
      escaped += char;
      continue;
    }
    for (const byte of Buffer.from(char, 'utf8')) escaped += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return escaped;
}

export interface TopicNames {
  readonly stream: string;
  /** The subjects' common part: partition p is `<base>.<p>`. */
  readonly subjectBase: string;
}

export function topicNames(topic: string, streamPrefix: string, subjectPrefix: string): TopicNames {
  const escaped = escapeTopic(topic);
  return { stream: `${streamPrefix}${escaped}`, subjectBase: `${subjectPrefix}${escaped}` };
}

/** Whether a stream subject (which may hold the wildcards `*` and `>`) captures `subject`. */
export function subjectMatches(pattern: string, subject: string): boolean {
  const want = pattern.split('.');
  const have = subject.split('.');
  for (let i = 0; i < want.length; i++) {
    if (want[i] === '>') return have.length > i;
    if (i >= have.length || (want[i] !== '*' && want[i] !== have[i])) return false;
  }
  return want.length === have.length;
}
