namespace Aof.Engine

open System
open System.Text
open Aof.Core

/// What INFO needs to know about the running server, gathered under the executor's lock.
type InfoInput =
    { Settings: Settings
      Stats: Stats
      Keyspace: Keyspace
      ConnectedClients: int
      BlockedClients: int
      StartedMs: int64
      NowMs: int64
      RunId: string
      ConfigFile: string
      OpsPerSec: int64
      Aof: AofInfo }

/// INFO's text: the sections and field names Redis uses, so tools that parse INFO keep working.
module Info =
    let version = "7.0.15"
    let defaultSections = [ "server"; "clients"; "memory"; "persistence"; "stats"; "replication"; "cpu"; "keyspace" ]

    let private human (bytes: int64) =
        let b = float bytes

        if b < 1024.0 then sprintf "%dB" bytes
        elif b < 1024.0 ** 2.0 then sprintf "%.2fK" (b / 1024.0)
        elif b < 1024.0 ** 3.0 then sprintf "%.2fM" (b / 1024.0 ** 2.0)
        else sprintf "%.2fG" (b / 1024.0 ** 3.0)

    let private section (name: string) (i: InfoInput) : (string * string) list =
        let s = i.Settings
        let proc = Diagnostics.Process.GetCurrentProcess()

        match name with
        | "server" ->
            let uptime = (i.NowMs - i.StartedMs) / 1000L

            [ "redis_version", version
              "redis_git_sha1", "00000000"
              "redis_git_dirty", "0"
              "redis_build_id", "0"
              "redis_mode", "standalone"
              "os", Runtime.InteropServices.RuntimeInformation.OSDescription
              "arch_bits", "64"
              "monotonic_clock", "POSIX clock_gettime"
              "multiplexing_api", "epoll"
              "process_id", string Environment.ProcessId
              "process_supervised", "no"
              "run_id", i.RunId
              "tcp_port", string s.Port
              "server_time_usec", string (i.NowMs * 1000L)
              "uptime_in_seconds", string uptime
              "uptime_in_days", string (uptime / 86400L)
              "hz", string s.Hz
              "configured_hz", string s.Hz
              "executable", (Environment.ProcessPath |> Option.ofObj |> Option.defaultValue "")
              "config_file", i.ConfigFile ]
        | "clients" ->
            [ "connected_clients", string i.ConnectedClients
              "cluster_connections", "0"
              "maxclients", string s.MaxClients
              "client_recent_max_input_buffer", "0"
              "client_recent_max_output_buffer", "0"
              "blocked_clients", string i.BlockedClients
              "tracking_clients", "0"
              "clients_in_timeout_table", "0" ]
        | "memory" ->
            let used = GC.GetTotalMemory false
            let rss = proc.WorkingSet64

            [ "used_memory", string used
              "used_memory_human", human used
              "used_memory_rss", string rss
              "used_memory_rss_human", human rss
              "used_memory_peak", string proc.PeakWorkingSet64
              "used_memory_peak_human", human proc.PeakWorkingSet64
              "maxmemory", "0"
              "maxmemory_human", "0B"
              "maxmemory_policy", "noeviction"
              "mem_allocator", "dotnet-gc" ]
        | "persistence" ->
            let a = i.Aof
            let flag b = if b then "1" else "0"

            // Every field redis-server 7.0 has, in its order. There is no child process: the fork,
            // copy-on-write and child-progress fields stay 0, and RDB is not written yet.
            [ "loading", flag a.Loading
              "async_loading", "0"
              "current_cow_peak", "0"
              "current_cow_size", "0"
              "current_cow_size_age", "0"
              "current_fork_perc", "0.00"
              "current_save_keys_processed", "0"
              "current_save_keys_total", "0"
              "rdb_changes_since_last_save", string i.Stats.Dirty
              "rdb_bgsave_in_progress", "0"
              "rdb_last_save_time", string (i.StartedMs / 1000L)
              "rdb_last_bgsave_status", "ok"
              "rdb_last_bgsave_time_sec", "-1"
              "rdb_current_bgsave_time_sec", "-1"
              "rdb_saves", "0"
              "rdb_last_cow_size", "0"
              "rdb_last_load_keys_expired", "0"
              "rdb_last_load_keys_loaded", "0"
              "aof_enabled", flag a.Enabled
              "aof_rewrite_in_progress", flag a.RewriteInProgress
              "aof_rewrite_scheduled", flag a.RewriteScheduled
              "aof_last_rewrite_time_sec", string a.LastRewriteTimeSec
              "aof_current_rewrite_time_sec", string a.CurrentRewriteTimeSec
              "aof_last_bgrewrite_status", (if a.LastRewriteOk then "ok" else "err")
              "aof_rewrites", string a.Rewrites
              "aof_rewrites_consecutive_failures", string a.ConsecutiveRewriteFailures
              "aof_last_write_status", (if a.LastWriteOk then "ok" else "err")
              "aof_last_cow_size", "0"
              "module_fork_in_progress", "0"
              "module_fork_last_cow_size", "0" ]
            @ (if a.Enabled then
                   [ "aof_current_size", string a.CurrentSize
                     "aof_base_size", string a.BaseSize
                     "aof_pending_rewrite", "0"
                     "aof_buffer_length", string a.BufferLength
                     "aof_pending_bio_fsync", flag a.PendingFsync
                     "aof_delayed_fsync", string a.DelayedFsync ]
               else
                   [])
        | "stats" ->
            [ "total_connections_received", string i.Stats.TotalConnections
              "total_commands_processed", string i.Stats.TotalCommands
              "instantaneous_ops_per_sec", string i.OpsPerSec
              "rejected_connections", string i.Stats.RejectedConnections
              "expired_keys", string i.Stats.ExpiredKeys
              "evicted_keys", "0"
              "keyspace_hits", string i.Stats.KeyspaceHits
              "keyspace_misses", string i.Stats.KeyspaceMisses
              "total_error_replies", string i.Stats.ErrorReplies ]
        | "replication" -> [ "role", "master"; "connected_slaves", "0"; "master_repl_offset", "0" ]
        | "cpu" ->
            [ "used_cpu_sys", sprintf "%.6f" proc.PrivilegedProcessorTime.TotalSeconds
              "used_cpu_user", sprintf "%.6f" proc.UserProcessorTime.TotalSeconds ]
        | "keyspace" ->
            [ for d in 0 .. (Keyspace.databases i.Keyspace) - 1 do
                  let db = Keyspace.db d i.Keyspace

                  if Db.size db > 0 then
                      sprintf "db%d" d, sprintf "keys=%d,expires=%d,avg_ttl=0" (Db.size db) (Champ.count db.Expires) ]
        | _ -> []

    let private title (name: string) =
        match name with
        | "cpu" -> "CPU"
        | n -> string (Char.ToUpperInvariant n[0]) + n.Substring 1

    /// The INFO text for the requested sections (none: the default set; `all`/`everything`: all of them).
    let render (requested: string list) (i: InfoInput) : string =
        let names =
            match requested with
            | []
            | [ "default" ] -> defaultSections
            | [ "all" ]
            | [ "everything" ] -> defaultSections
            | r -> defaultSections |> List.filter (fun s -> List.contains s r)

        let sb = StringBuilder()

        names
        |> List.iteri (fun n name ->
            if n > 0 then sb.Append("\r\n") |> ignore
            sb.Append("# ").Append(title name).Append("\r\n") |> ignore

            for (k, v) in section name i do
                sb.Append(k).Append(':').Append(v).Append("\r\n") |> ignore)

        sb.ToString()
