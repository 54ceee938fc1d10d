// Package kpl encodes and decodes the Kinesis Producer Library (KPL) aggregated-record
// format, so that many small user records travel in one Kinesis record and any KCL
// consumer (or ours, workloads/consumer) can split them again.
//
// An aggregated Kinesis record is
//
//	Magic (F3 89 9A C2) | protobuf AggregatedRecord | MD5(protobuf AggregatedRecord) (16 bytes)
//
// with the proto2 messages
//
//	message AggregatedRecord {
//	  repeated string partition_key_table     = 1;
//	  repeated string explicit_hash_key_table = 2;
//	  repeated Record records                 = 3;
//	}
//	message Record {
//	  required uint64 partition_key_index     = 1;
//	  optional uint64 explicit_hash_key_index = 2;
//	  required bytes  data                    = 3;
//	  repeated Tag    tags                    = 4;
//	}
//	message Tag { required string key = 1; optional string value = 2; }
//
// as published in awslabs/amazon-kinesis-producer (aggregation-format.md). The wire
// encoding is written by hand here: the format uses only varints and length-delimited
// fields, which does not justify a protobuf dependency.
package kpl
