package capacity

// Prices in us-east-1, in USD, in one place so a run can be re-priced: the
// simulator (internal/sim) and the controller's Auto mode price with the
// same figures. Sources: docs/scaling.md ("Prices").
const (
	// Provisioned Kinesis Data Streams.
	PriceShardHour       = 0.015 // per shard-hour
	PricePutUnitsMillion = 0.014 // per million PUT payload units
	PutPayloadUnitBytes  = 25 * 1024
	// On-demand Kinesis Data Streams.
	PriceOnDemandStreamHour = 0.04
	PriceOnDemandWriteGB    = 0.08
	PriceOnDemandReadGB     = 0.04
	// On-demand bills each record rounded up to the nearest KB.
	OnDemandRecordRoundBytes = 1024
	// Fargate (Linux/x86).
	PriceFargateVCPUHour = 0.04048
	PriceFargateGBHour   = 0.004445
)

// GB is the unit the per-GB prices use.
const GB = 1 << 30
