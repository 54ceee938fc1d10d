package sim

import "github.com/kdp-io/streamprocessor-operator/internal/capacity"

// Prices in us-east-1, in USD: internal/capacity holds them, so that the
// controller's Auto capacity mode prices with the simulator's figures.
const (
	PriceShardHour           = capacity.PriceShardHour
	PricePutUnitsMillion     = capacity.PricePutUnitsMillion
	PutPayloadUnitBytes      = capacity.PutPayloadUnitBytes
	PriceOnDemandStreamHour  = capacity.PriceOnDemandStreamHour
	PriceOnDemandWriteGB     = capacity.PriceOnDemandWriteGB
	PriceOnDemandReadGB      = capacity.PriceOnDemandReadGB
	OnDemandRecordRoundBytes = capacity.OnDemandRecordRoundBytes
	PriceFargateVCPUHour     = capacity.PriceFargateVCPUHour
	PriceFargateGBHour       = capacity.PriceFargateGBHour
)

// GB is the unit the per-GB prices use.
const GB = capacity.GB
