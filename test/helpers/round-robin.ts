/**
 * "Several replicas behind one address" for tests: a TCP balancer that hands each new
 * connection to the next backend in turn, and skips a backend that refuses the
 * connection (a killed replica), as a Kubernetes Service does once the endpoint is gone.
 * TCP, not HTTP, so WebSocket upgrades pass through untouched.
 */
import net from 'node:net';

export class RoundRobin {
  private next = 0;
  /** Which backend (index) took each accepted connection, in order. */
  readonly picks: number[] = [];

  private constructor(
    private readonly server: net.Server,
    readonly port: number,
    private readonly backends: readonly number[],
  ) {}

  static async start(backendPorts: readonly number[]): Promise<RoundRobin> {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const rr = new RoundRobin(server, (server.address() as net.AddressInfo).port, backendPorts);
    server.on('connection', (client) => rr.accept(client));
    return rr;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get wsUrl(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  /** Makes the next connection go to backend `index` (tests that need a given replica). */
  aimNextAt(index: number): void {
    this.next = index;
  }

  private accept(client: net.Socket, tried = 0): void {
    if (tried >= this.backends.length) {
      client.destroy();
      return;
    }
    const index = this.next % this.backends.length;
    this.next = index + 1;
    const upstream = net.connect(this.backends[index]!, '127.0.0.1');
    client.pause();
    upstream.once('connect', () => {
      this.picks.push(index);
      upstream.removeAllListeners('error');
      client.pipe(upstream).pipe(client);
      client.resume();
      const closeBoth = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on('error', closeBoth);
      upstream.on('error', closeBoth);
      client.on('close', closeBoth);
      upstream.on('close', closeBoth);
    });
    upstream.once('error', () => {
      upstream.destroy();
      this.accept(client, tried + 1);
    });
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
