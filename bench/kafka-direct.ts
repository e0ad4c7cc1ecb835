/**
 * What an application does without a proxy: kafkajs in this process sending straight to the
 * broker, one message or one batch per send(), with the producer settings pproxy's Kafka storage
 * uses (acks all, 2 retries, 30 s timeouts, explicit random partitions).
 */
import { Kafka, Partitioners, logLevel, type Message, type Producer } from 'kafkajs';
import type { Target } from './load';
import type { Outcome } from './frames';

export class KafkaDirect implements Target {
  private constructor(
    private readonly producer: Producer,
    private readonly topic: string,
    private readonly partitions: number,
    private readonly batch: number,
    private readonly body: Buffer,
  ) {}

  static async connect(brokers: string[], topic: string, partitions: number, batch: number, bodyBytes: number): Promise<KafkaDirect> {
    const kafka = new Kafka({
      clientId: 'pproxy-bench',
      brokers,
      requestTimeout: 30_000,
      retry: { retries: 2, initialRetryTime: 100 },
      logLevel: logLevel.ERROR,
    });
    const producer = kafka.producer({ allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    return new KafkaDirect(producer, topic, partitions, batch, Buffer.alloc(bodyBytes, 'x'));
  }

  messagesOf(): number {
    return this.batch;
  }

  call(_index: number, done: (outcome: Outcome) => void): void {
    const messages: Message[] = [];
    for (let i = 0; i < this.batch; i++) messages.push({ value: this.body, partition: Math.floor(Math.random() * this.partitions) });
    this.producer.send({ topic: this.topic, messages, acks: -1, timeout: 30_000 }).then(
      () => done(0),
      (err: Error) => done(`kafkajs ${err.name}`),
    );
  }

  close(): Promise<void> {
    return this.producer.disconnect();
  }
}
