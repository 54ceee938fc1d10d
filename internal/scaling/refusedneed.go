package scaling

// Records the producers refused for lack of tasks (HTTP 429/503,
// TaskObservation.Refused) are demand that has not reached Kinesis yet:
// once the tasks asked for start, they are written to the stream. While
// they are refused, neither IncomingBytes nor the producer's IngestBytes
// shows them, so a shard need read from those is a lower bound, and the
// sooner the producers pass records, the higher that bound. Counting the
// refused records makes the need the demand itself: a pass made while the
// producers still refuse sizes its call for what they will pass, not for
// the part they already do.
//
// A minute's demand is its Kinesis-side demand (bytes and records, with
// throttled ones and the producer's IngestBytes, shardsFor) times the
// producer's (accepted + refused) ÷ accepted of the same minute
// (demandFactor, as the producer's CPU rule counts them): both are the
// producer's own counts of user records, so the ratio holds whatever KPL
// aggregation does to the record count and size. The edges are the CPU
// rule's: a minute with refusals and nothing accepted counts at
// unmeasuredDemand (the demand is above what was carried, by how much is
// unknown); a minute without a usable Refused point refused nothing that
// can be counted.

// withRefused sets each minute's refusedFactor from the producer's
// accepted (Requests) and refused (Refused) records of the same minute.
func withRefused(fresh []minuteLoad, producer TaskObservation) []minuteLoad {
	if len(producer.Refused) == 0 {
		return fresh
	}
	accepted, refused := countsByMinute(producer.Requests), countsByMinute(producer.Refused)
	for i := range fresh {
		k := minuteOf(fresh[i].at)
		if r := refused[k]; r > 0 {
			fresh[i].refusedFactor = demandFactor(accepted[k], r)
		}
	}
	return fresh
}
