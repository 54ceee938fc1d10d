#!/usr/bin/env python3
# A KCL MultiLang record processor that does nothing with its records, for
# `make bench-consumer`: what the protocol itself costs (JSON, base64, pipes)
# with amazon_kclpy. It checkpoints where the KCL requires it: at shard end and
# when the consumer stops.
from amazon_kclpy import kcl
from amazon_kclpy.v3 import processor


class NoopProcessor(processor.RecordProcessorBase):
    def initialize(self, initialize_input):
        pass

    def process_records(self, process_records_input):
        for record in process_records_input.records:
            record.binary_data  # decode the base64, as any real processor must

    def lease_lost(self, lease_lost_input):
        pass

    def shard_ended(self, shard_ended_input):
        shard_ended_input.checkpointer.checkpoint()

    def shutdown_requested(self, shutdown_requested_input):
        shutdown_requested_input.checkpointer.checkpoint()


if __name__ == "__main__":
    kcl.KCLProcess(NoopProcessor()).run()
