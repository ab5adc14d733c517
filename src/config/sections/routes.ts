import { z } from 'zod';

// Which route tables decide a request: the shipped presets, an extra file, paths looked up in Keycloak.
// One section of the configuration schema; src/config/schema.ts composes the sections.

/** The `routes:` section: the MLflow table (preset, extra file, prefix, Keycloak lookups) and the MinIO one. */
export const routesSchema = z
  .strictObject({
    /** The shipped table; `none` when `file` alone describes every route. */
    preset: z.enum(['mlflow', 'none']).default('mlflow'),
    /** Extra table (YAML or JSON, same format); its entries win over the preset's. */
    file: z.string().min(1).optional(),
    /** Static prefix MLflow is served under (e.g. `/mlflow`); empty for none. */
    prefix: z
      .string()
      .regex(/^(\/[A-Za-z0-9._~-]+)*$/, 'empty or /segment[/segment...]')
      .default(''),
    /**
     * Paths the table does not map are looked up in Keycloak by the resources' `uris`
     * (protection API, like the policy enforcer's lazy-load-paths); the static table still
     * decides every path it maps. MLflow service only.
     */
    fromKeycloak: z.boolean().default(false),
    /** The scope a Keycloak-resolved path needs, by method (HEAD uses GET's); other methods are denied. */
    keycloakScopes: z
      .record(z.string().regex(/^[A-Z]{1,16}$/), z.string().regex(/^[A-Za-z0-9_.:-]+$/))
      .default({ GET: 'read', POST: 'write', PUT: 'write', PATCH: 'write', DELETE: 'delete' }),
    /** The S3 table, used for subrequests NGINX sends to `/auth/minio` (the MinIO front). */
    minio: z
      .strictObject({
        preset: z.enum(['minio', 'none']).default('minio'),
        file: z.string().min(1).optional(),
      })
      .prefault({}),
  })
  .prefault({});
