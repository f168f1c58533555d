/**
 * The OTLP logs messages (`ExportLogsServiceRequest` and what it holds), for
 * protobufjs reflection. `@opentelemetry/otlp-transformer` 0.215 ships
 * generated code for traces and metrics only (it encodes logs by hand), so
 * the logs messages are declared here, field for field as in the official
 * `opentelemetry-proto` 1.x files (`common/v1/common.proto`,
 * `resource/v1/resource.proto`, `logs/v1/logs.proto`,
 * `collector/logs/v1/logs_service.proto`), and protobufjs (already in the
 * lock beside the generated code) decodes and encodes them: no hand-written
 * wire codec. Field names are the lowerCamelCase the generated code and the
 * OTLP JSON mapping use; `severity_number` is read as the `int32` its enum
 * is on the wire, so a value newer than this list still decodes.
 *
 * @module
 */

import protobuf from "protobufjs/light";

const f = (id: number, type: string, rule?: "repeated") => rule ? { id, type, rule } : { id, type };

/** The descriptor, in protobufjs's JSON form. */
const DESCRIPTOR = {
  nested: {
    opentelemetry: {
      nested: {
        proto: {
          nested: {
            common: {
              nested: {
                v1: {
                  nested: {
                    AnyValue: {
                      oneofs: {
                        value: {
                          oneof: [
                            "stringValue",
                            "boolValue",
                            "intValue",
                            "doubleValue",
                            "arrayValue",
                            "kvlistValue",
                            "bytesValue",
                          ],
                        },
                      },
                      fields: {
                        stringValue: f(1, "string"),
                        boolValue: f(2, "bool"),
                        intValue: f(3, "int64"),
                        doubleValue: f(4, "double"),
                        arrayValue: f(5, "ArrayValue"),
                        kvlistValue: f(6, "KeyValueList"),
                        bytesValue: f(7, "bytes"),
                      },
                    },
                    ArrayValue: { fields: { values: f(1, "AnyValue", "repeated") } },
                    KeyValueList: { fields: { values: f(1, "KeyValue", "repeated") } },
                    KeyValue: { fields: { key: f(1, "string"), value: f(2, "AnyValue") } },
                    InstrumentationScope: {
                      fields: {
                        name: f(1, "string"),
                        version: f(2, "string"),
                        attributes: f(3, "KeyValue", "repeated"),
                        droppedAttributesCount: f(4, "uint32"),
                      },
                    },
                  },
                },
              },
            },
            resource: {
              nested: {
                v1: {
                  nested: {
                    Resource: {
                      fields: {
                        attributes: f(1, "opentelemetry.proto.common.v1.KeyValue", "repeated"),
                        droppedAttributesCount: f(2, "uint32"),
                      },
                    },
                  },
                },
              },
            },
            logs: {
              nested: {
                v1: {
                  nested: {
                    ResourceLogs: {
                      fields: {
                        resource: f(1, "opentelemetry.proto.resource.v1.Resource"),
                        scopeLogs: f(2, "ScopeLogs", "repeated"),
                        schemaUrl: f(3, "string"),
                      },
                    },
                    ScopeLogs: {
                      fields: {
                        scope: f(1, "opentelemetry.proto.common.v1.InstrumentationScope"),
                        logRecords: f(2, "LogRecord", "repeated"),
                        schemaUrl: f(3, "string"),
                      },
                    },
                    LogRecord: {
                      fields: {
                        timeUnixNano: f(1, "fixed64"),
                        observedTimeUnixNano: f(11, "fixed64"),
                        severityNumber: f(2, "int32"),
                        severityText: f(3, "string"),
                        body: f(5, "opentelemetry.proto.common.v1.AnyValue"),
                        attributes: f(6, "opentelemetry.proto.common.v1.KeyValue", "repeated"),
                        droppedAttributesCount: f(7, "uint32"),
                        flags: f(8, "fixed32"),
                        traceId: f(9, "bytes"),
                        spanId: f(10, "bytes"),
                        eventName: f(12, "string"),
                      },
                    },
                  },
                },
              },
            },
            collector: {
              nested: {
                logs: {
                  nested: {
                    v1: {
                      nested: {
                        ExportLogsServiceRequest: {
                          fields: {
                            resourceLogs: f(
                              1,
                              "opentelemetry.proto.logs.v1.ResourceLogs",
                              "repeated",
                            ),
                          },
                        },
                        ExportLogsServiceResponse: {
                          fields: { partialSuccess: f(1, "ExportLogsPartialSuccess") },
                        },
                        ExportLogsPartialSuccess: {
                          fields: {
                            rejectedLogRecords: f(1, "int64"),
                            errorMessage: f(2, "string"),
                          },
                        },
                      },
                    },
                  },
                },
              },
            },
          },
        },
      },
    },
  },
};

const root = protobuf.Root.fromJSON(DESCRIPTOR);

/** `opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest`. */
export const ExportLogsServiceRequest: protobuf.Type = root.lookupType(
  "opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest",
);
/** `opentelemetry.proto.collector.logs.v1.ExportLogsServiceResponse`. */
export const ExportLogsServiceResponse: protobuf.Type = root.lookupType(
  "opentelemetry.proto.collector.logs.v1.ExportLogsServiceResponse",
);
