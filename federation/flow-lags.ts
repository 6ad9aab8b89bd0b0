import { type FlowLag, flowLag, type SiteOffsets } from './lag.ts';
import { routedTopicsForSite } from './topics.ts';
import { siteOf, type Topology } from './topology.ts';

/** A flow whose lag cannot be computed: one of its two sites did not report offsets. */
export interface UnknownFlowLag {
  from: string;
  to: string;
  unknown: true;
  reason: string;
}

/**
 * The lag of every MirrorMaker 2 flow of the topology, from the offsets each
 * site reported (a site missing from `offsets` did not answer). A flow carries
 * the routed topics its target serves. The one place this is computed: the
 * federated view, the drills and `fedgate status` all read it.
 */
export function flowLags(topology: Topology, offsets: ReadonlyMap<string, SiteOffsets>, now: number): Array<FlowLag | UnknownFlowLag> {
  const out: Array<FlowLag | UnknownFlowLag> = [];
  for (const source of topology.sites) {
    for (const flow of source.flows) {
      const src = offsets.get(source.name);
      const dst = offsets.get(flow.to);
      if (!src || !dst) {
        out.push({ from: source.name, to: flow.to, unknown: true, reason: `${src ? flow.to : source.name} did not answer` });
        continue;
      }
      out.push(flowLag({ from: source.name, to: flow.to, topics: routedTopicsForSite(siteOf(topology, flow.to)) }, src, dst, now));
    }
  }
  return out;
}

export const isKnownLag = (l: FlowLag | UnknownFlowLag): l is FlowLag => !('unknown' in l);
