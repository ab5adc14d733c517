import { z } from 'zod';

// The value shapes several sections share; the unit is in each option's name (…Ms, …Seconds).

/** A TCP port; 0 takes any free one the system picks. */
export const port = z.number().int().min(0).max(65_535);
/** A whole number of milliseconds above zero. */
export const positiveMs = z.number().int().positive();
/** A number of seconds above zero (fractions allowed). */
export const positiveSeconds = z.number().positive();
