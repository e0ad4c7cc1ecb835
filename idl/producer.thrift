/*
 * The wire contract of pproxy: DDMQ's producer proxy IDL
 * (didi/DDMQ carrera-producer/idl/producerProxy.thrift) with identical struct names, field ids,
 * types, requiredness, defaults, constants and service methods. Clients generated from either file
 * are interchangeable. Comments describe what pproxy does with each field.
 * Transport: framed (4-byte big-endian length prefix). Protocol: compact.
 */
namespace php didi.carrera.producer.proxy
namespace java com.xiaojukeji.carrera.thrift
namespace go CarreraProducer
namespace cpp CarreraProducer
namespace py carrera_producer

struct Result {
    1: i32 code                     // result code, see README "Result codes"
    2: string msg                   // the fixed message of that code
    3: optional string key          // never set by the proxy; SDKs copy the message key into it
}

const string PRESSURE_TRAFFIC_KEY = "isPressureTraffic"
const string PRESSURE_TRAFFIC_ENABLE = "true"
const string PRESSURE_TRAFFIC_DISABLE = "false"
const string TRACE_ID = "traceId"
const string SPAN_ID = "spanId"
const string CARRERA_HEADERS = "carrera_headers"

// Declared by DDMQ, never used by the producer proxy; kept so generated code stays identical.
struct RestMessage {
    1: byte type = 1;
    2: byte mode = 1;
    3: string url;
    4: map<string, string> params;
    5: map<string, string> headers;
    6: i64 timestamp;
    7: i64 expire;
    8: i64 timeout;
    9: i32 retryCnt = 3;
}

struct Message {
    1: string topic;                               // topic; must be served by this proxy
    2: string key;                                 // trace key; Kafka record key, RocketMQ KEYS
    3: string value;                               // legacy body, used only when body (7) is absent
    4: i64 hashId;                                 // partition hash when partitionId == -1
    5: string tags;                                // RocketMQ tags
    6: i32 partitionId = -1;                       // >= 0 explicit, -1 by hashId, < -1 random
    7: optional binary body;                       // message body (wins over value)
    8: optional string version;                    // client SDK version, logged only
    9: optional map<string, string> properties     // user properties; Kafka headers
}

struct DelayResult {
    1: i32 code
    2: string msg
    3: string uniqDelayMsgId                       // id of the delay message, used to cancel it
}

struct DelayMessage {
    1: string topic;                               // a delay topic
    2: optional string uniqDelayMsgId;             // cancel: the id returned by the add
    3: optional binary body;                       // message body
    4: string tags;
    5: i32 action;                                 // 1 add, 2 cancel
    6: optional i64 timestamp;                     // trigger time, epoch seconds
    7: optional i32 dmsgtype;                      // 2 delay, 3 loop delay, 4 loop exponent delay
    8: optional i64 interval                       // loop interval (type 3) or exponent base (type 4)
    9: optional i64 expire;                        // loop end, epoch seconds
    10: optional i64 times;                        // loop count
    11: optional string uuid;                      // client-generated UUID, required to add
    13: optional string version;                   // client SDK version
    14: optional map<string, string> properties
}

// SDK-side helper; never sent to the proxy.
struct DelayMeta {
    1: i64 timestamp;
    2: optional i32 dmsgtype;
    3: optional i64 interval
    4: optional i64 expire;
    5: optional i64 times;
    7: optional map<string, string> properties
}

service ProducerService {
    Result sendSync(1: Message message, 2: i64 timeout)      // timeout: milliseconds
    Result sendBatchSync(1: list<Message> messages)
    Result sendAsync(1: Message message)                      // answers after the broker acknowledges
    DelayResult sendDelaySync(1: DelayMessage delayMessage, 2: i64 timeout)
}
