/** What the bench ran on, for the JSON and the table's first line. */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import type Docker from 'dockerode';

export async function machineInfo(docker: Docker) {
  let model = 'unknown';
  try {
    model = /^model name\s*:\s*(.*)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? model;
  } catch {
    // not Linux
  }
  let nproc = os.availableParallelism();
  try {
    nproc = Number(execFileSync('nproc', { encoding: 'utf8' }).trim()) || nproc;
  } catch {
    // no coreutils
  }
  const [version, info] = await Promise.all([docker.version(), docker.info() as Promise<Record<string, unknown>>]);
  return {
    nproc,
    cpuModel: model,
    memGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    kernel: os.release(),
    node: process.version,
    docker: {
      version: version.Version,
      apiVersion: version.ApiVersion,
      storageDriver: info.Driver as string | undefined,
      cgroupVersion: info.CgroupVersion as string | undefined,
    },
  };
}
