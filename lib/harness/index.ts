// tcp-keepalive/harness: a peer that dies in every way a connection dies,
// for testing clients, and the drill that measures how fast each set-up
// notices.
export { startPeer, Peer, cannotCause } from './peer';
export type { Death, DeathRecord, PeerOptions, PeerConnectionStats } from './peer';
export {
  runDrill,
  runScenario,
  expectedMs,
  budgets,
  defaultBound,
  judge,
  SCENARIOS,
  SCENARIO_NAMES,
  SETUPS,
  SETUP_NAMES,
  DEFAULT_TIMINGS,
  PASSING,
  SCENARIO_SETUPS,
} from './drill/scenarios';
export type { Scenario, Setup, Timings, DrillRow, DrillOptions, Progress, Verdict } from './drill/scenarios';
export type { TimelineEvent, TimelineKind } from './drill/events';
export { renderTimeline } from './drill/timeline-svg';
export type { TimelineRow, TimelineOptions } from './drill/timeline-svg';
export { killAll, liveChildren } from './children';
export { hasNetAdmin, namespaceSupport } from './privilege';
export { startMiddlebox, Middlebox, middleboxSupport, FORGETS } from './middlebox';
export type { Forgets, MiddleboxOptions, MiddleboxPath, MiddleboxSupport } from './middlebox';
