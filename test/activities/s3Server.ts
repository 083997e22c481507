/**
 * A real S3-compatible server for tests: s3rver (from npm) on a loopback port, one bucket per
 * test file, files under the run's scratch directory.
 */
import S3rver from 's3rver';
import { scratchDir } from '../support/temporal.ts';

export interface S3TestServer {
  endpoint: string;
  bucket: string;
  /** The environment that points the service at it. */
  env: Record<string, string>;
  close(): Promise<void>;
}

export async function startS3Server(bucket = 'music-assets'): Promise<S3TestServer> {
  const server = new S3rver({
    port: 0,
    address: '127.0.0.1',
    silent: true,
    directory: scratchDir('s3'),
    configureBuckets: [{ name: bucket, configs: [] }],
  });
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    bucket,
    env: {
      ASSET_STORE: 's3',
      S3_BUCKET: bucket,
      S3_ENDPOINT: endpoint,
      S3_REGION: 'us-east-1',
      // s3rver's fixed development credentials.
      S3_ACCESS_KEY_ID: 'S3RVER',
      S3_SECRET_ACCESS_KEY: 'S3RVER',
      S3_FORCE_PATH_STYLE: 'true',
    },
    close: () => server.close(),
  };
}
