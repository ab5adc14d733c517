/** Milliseconds since the epoch. Injected so that tests can freeze time (jest fake timers). */
export type Clock = () => number;

export const systemClock: Clock = () => Date.now();
