/**
 * The systemd unit: a dedicated user, a read-only system with write access
 * only to the data and log directories, no privilege gain, a system call
 * filter, a memory ceiling, restart on failure, and a stop timeout above the
 * agent's drain deadline. `systemd-analyze security` rates it below 2.0.
 *
 * @module
 */

/** Where the installed agent lives and who runs it. */
export interface ServiceLayout {
  bin: string;
  user: string;
  configPath: string;
  dataDir: string;
  logDir: string;
}

/** The layout `service install` uses by default. */
export const DEFAULT_LAYOUT: ServiceLayout = {
  bin: "/usr/local/bin/astron-watch",
  user: "astron-watch",
  configPath: "/etc/astron-watch/astron-watch.yaml",
  dataDir: "/var/lib/astron-watch",
  logDir: "/var/log/astron-watch",
};

/** The unit file text for `layout`. */
export function serviceUnit(layout: ServiceLayout = DEFAULT_LAYOUT): string {
  const { bin, user, configPath, dataDir, logDir } = layout;
  return `[Unit]
Description=astron-watch: monitoring agent for astron-agent hosts
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
User=${user}
Group=${user}
WorkingDirectory=${dataDir}
EnvironmentFile=-/etc/astron-watch/env
ExecStartPre=${bin} check --config ${configPath}
ExecStart=${bin} run --config ${configPath}
ExecReload=/bin/kill -HUP $MAINPID
Restart=on-failure
RestartSec=5s
# The agent drains within server.shutdown_timeout (10s by default).
TimeoutStopSec=30s
KillSignal=SIGTERM

# Hardening: nothing writable but the data and log directories.
NoNewPrivileges=yes
ProtectSystem=strict
ReadWritePaths=${dataDir} ${logDir}
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
DevicePolicy=closed
PrivateMounts=yes
PrivateUsers=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
# Other processes are invisible; of /proc only the agent's own entries remain.
ProtectProc=invisible
ProcSubset=pid
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
RemoveIPC=yes
LockPersonality=yes
# AF_NETLINK: listing the network interfaces (the server_host metric label) needs it.
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK
CapabilityBoundingSet=
AmbientCapabilities=
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallFilter=~@privileged @resources
# A call outside the filter fails with EPERM instead of killing the agent
# (V8 probes for pkey_alloc at start-up and copes when it fails).
SystemCallErrorNumber=EPERM
# No MemoryDenyWriteExecute=: V8's JIT needs writable, executable memory.
UMask=0077
MemoryMax=1G
LimitNOFILE=65536

[Install]
WantedBy=multi-user.target
`;
}
