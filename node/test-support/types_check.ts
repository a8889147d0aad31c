// Compiled (not run) by test/types.test.js: index.d.ts must type this usage under --strict.
import { IPCManager, IPCError, Status, Kind, configFromLauncherArgs, TransportConfig } from '..';
async function main(): Promise<void> {
  const m = new IPCManager();
  const args: string[] = m.createListener({ transport: 'unix' });
  m.on('message', (msg, kind) => { const k: number = kind; console.log(msg, k); });
  m.on('data', (buf, kind) => { const b: Buffer = buf; console.log(b.length, kind); });
  m.on('disconnected', ({ status, reason }) => console.log(status, reason));
  m.startReader().on('connected', () => console.log('connected'));
  await m.waitForClient(1000);
  await m.send({ a: 1 }, Kind.COMMAND);
  await m.sendBytes(Buffer.from('{}'));
  await m.sendMany([{ a: 1 }, { b: 2 }]);
  for await (const x of m.messages()) console.log(x);
  const c: TransportConfig = configFromLauncherArgs(args);
  await new IPCManager().connect(c);
  try { await m.send(1); } catch (e) { if (e instanceof IPCError && e.status === Status.E_CLOSED) console.log(e.code); }
  await m.cleanup(); await m.abort(); await m.destroy();
  m.unref().ref();
}
main();
