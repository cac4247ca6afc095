namespace Aof.Engine

open System
open System.IO
open System.Text
open Aof.Core

/// `appendfsync`: when the AOF is fsynced.
[<RequireQualifiedAccess>]
type AppendFsync =
    | Always
    | EverySec
    | No

/// `enable-debug-command`: who may run DEBUG.
[<RequireQualifiedAccess>]
type DebugCommandPolicy =
    | No
    | Yes
    /// Only connections from a loopback address.
    | Local

/// The settings the engine runs with, as `redis-server` would hold them after reading its config.
type Settings =
    { Port: int
      /// As written: Redis's `-` prefix (an address that may be missing) is kept for the host to interpret.
      /// Empty means "every interface", as in Redis.
      Bind: string[]
      Dir: string
      Databases: int
      LogFile: string
      LogLevel: LogLevel
      /// Seconds of idleness before a client is closed; 0 never.
      Timeout: int
      /// Redis allows up to 2^32-1; larger values are held as Int32.MaxValue, which is unlimited in practice.
      MaxClients: int
      ProtoMaxBulkLen: int64
      ClientQueryBufferLimit: int64
      /// Already clamped to 1..500 as Redis does.
      Hz: int
      RequirePass: string option
      PidFile: string option
      EnableDebugCommand: DebugCommandPolicy
      AppendOnly: bool
      AppendFilename: string
      AppendDirname: string
      AppendFsync: AppendFsync
      AofLoadTruncated: bool
      AofTimestampEnabled: bool
      /// Accepted and reported for compatibility; whether a rewrite writes an RDB preamble is the AOF's call.
      AofUseRdbPreamble: bool
      AutoAofRewritePercentage: int
      AutoAofRewriteMinSize: int64
      NoAppendfsyncOnRewrite: bool
      AofRewriteIncrementalFsync: bool }

/// One directive line after splitting: `Name` lower-cased, `Args` unquoted.
type Directive =
    { Name: string
      Args: string list
      File: string
      /// 1-based line in the text that was parsed (file text followed by the command-line options).
      Line: int
      /// The line as written, trimmed, for the `>>>` line of an error.
      LineText: string }

module internal Product =
    [<Literal>]
    let Version = "0.1.0"

/// A configuration that stops the start. `Line` 0 means the problem is not tied to one line.
type ConfigError =
    { File: string
      Line: int
      LineText: string
      Reason: string }

    /// The multi-line message redis-server prints to stderr before exiting with status 1
    /// (without the empty line Redis prints first).
    static member format(e: ConfigError) : string =
        let header = "*** FATAL CONFIG FILE ERROR (Aof " + Product.Version + ") ***"

        if e.Line <= 0 then
            String.concat "\n" [ header; e.Reason ]
        else
            String.concat
                "\n"
                [ header
                  sprintf "Reading the configuration file, at line %d" e.Line
                  sprintf ">>> '%s'" e.LineText
                  e.Reason ]

    member this.Format() = ConfigError.format this

/// What the command line asked for, before any file is read.
type CommandLine =
    { ConfigFile: string option
      /// `-` as the first or last argument: configuration is also read from standard input, after the file.
      Stdin: bool
      /// `--name args...` in order; they are applied after the file's directives.
      Directives: (string * string list) list
      Help: bool
      Version: bool }

module Config =
    let version = Product.Version

    /// What `--version` prints.
    let versionText = sprintf "Aof server v=%s" version

    let usage =
        String.concat
            "\n"
            [ "Usage: Aof.Server [/path/to/aof.conf] [--directive value ...] [-]"
              "       Aof.Server -                  read the configuration from standard input"
              "       Aof.Server -v | --version     print the version"
              "       Aof.Server -h | --help        print this help"
              ""
              "The configuration file uses redis.conf's syntax. Each --directive on the command line"
              "is applied after the file, as if appended to it."
              ""
              "Examples:"
              "       Aof.Server"
              "       Aof.Server /etc/aof/aof.conf"
              "       Aof.Server --port 6380 --dir ./data6380"
              "       Aof.Server /etc/aof/aof.conf --loglevel verbose"
              "       printf 'port 6380\\n' | Aof.Server -" ]

    let defaults =
        { Port = 6379
          Bind = [| "127.0.0.1" |]
          Dir = "./data"
          Databases = 16
          LogFile = ""
          LogLevel = LogLevel.Notice
          Timeout = 0
          MaxClients = 10000
          ProtoMaxBulkLen = 512L * 1024L * 1024L
          ClientQueryBufferLimit = 1024L * 1024L * 1024L
          Hz = 10
          RequirePass = None
          PidFile = None
          EnableDebugCommand = DebugCommandPolicy.No
          // The product exists to persist through the AOF, so it is on unless turned off.
          AppendOnly = true
          AppendFilename = "appendonly.aof"
          AppendDirname = "appendonlydir"
          AppendFsync = AppendFsync.EverySec
          AofLoadTruncated = true
          AofTimestampEnabled = false
          AofUseRdbPreamble = true
          AutoAofRewritePercentage = 100
          AutoAofRewriteMinSize = 64L * 1024L * 1024L
          NoAppendfsyncOnRewrite = false
          AofRewriteIncrementalFsync = true }

    // ---------------------------------------------------------------------------------------------
    // Words: redis.conf's quoting rules (sdssplitargs) and the quoting redis-server uses when it turns
    // command-line arguments back into config lines (sdscatrepr).

    /// Splits one line into words with Redis's rules (the RESP reader's sdssplitargs). None on unbalanced
    /// quotes, or a closing quote followed by something other than a space. `\xHH` yields the char with that
    /// code (0..255).
    let splitArgs (line: string) : string list option =
        let enc = Aof.Core.Bytes.textEncoding line

        match Aof.Core.RespReader.SplitArgs(ReadOnlySpan(enc.GetBytes line)) with
        | null -> None
        | words -> Some [ for w in words -> enc.GetString w ]

    /// Double-quotes a word so that `splitArgs` gives it back unchanged. Characters above 0x7e are
    /// left as they are (they pass through splitting untouched), so no text encoding is assumed.
    let quote (s: string) : string = Bytes.repr true s

    // ---------------------------------------------------------------------------------------------
    // Values: Redis's integer (string2ll) and memory (memtoll) rules, and its error wording.

    /// Redis's strict integer syntax: optional `-`, no `+`, no spaces, no leading zeros, fits in 64 bits.
    let parseInteger (s: string) : int64 option =
        if s = "0" then
            Some 0L
        else
            let negative = s.Length > 0 && s[0] = '-'
            let digits = if negative then s.Substring 1 else s

            if
                digits.Length = 0
                || digits.Length > 19
                || digits[0] < '1'
                || digits[0] > '9'
                || not (digits |> Seq.forall Char.IsAsciiDigit)
            then
                None
            else
                // 19 digits always fit in a uint64; the sign decides the limit.
                let v = UInt64.Parse digits

                if negative then
                    if v <= 9223372036854775808UL then Some(int64 (0UL - v)) else None
                elif v <= uint64 Int64.MaxValue then
                    Some(int64 v)
                else
                    None

    /// Redis's memory values: digits then an optional unit b, k, kb, m, mb, g, gb (any case; k is 1000,
    /// kb 1024). No sign, no fraction. Too many digits saturate and the product wraps, exactly as the C
    /// code does, so out-of-range input surfaces as a range error rather than a syntax error.
    let parseMemory (s: string) : int64 option =
        if s.StartsWith '-' then
            None
        else
            let digitsEnd =
                match Seq.tryFindIndex (fun c -> not (Char.IsAsciiDigit c)) s with
                | Some i -> i
                | None -> s.Length

            let multiplier =
                match s.Substring(digitsEnd).ToLowerInvariant() with
                | ""
                | "b" -> Some 1UL
                | "k" -> Some 1000UL
                | "kb" -> Some 1024UL
                | "m" -> Some 1000000UL
                | "mb" -> Some(1024UL * 1024UL)
                | "g" -> Some 1000000000UL
                | "gb" -> Some(1024UL * 1024UL * 1024UL)
                | _ -> None

            match multiplier with
            | Some mul when digitsEnd < 128 ->
                let mutable v = 0UL
                let mutable saturated = false

                for i in 0 .. digitsEnd - 1 do
                    if not saturated then
                        let d = uint64 (int s[i] - int '0')

                        if v > (UInt64.MaxValue - d) / 10UL then
                            saturated <- true
                            v <- UInt64.MaxValue
                        else
                            v <- v * 10UL + d

                Some(int64 (v * mul))
            | _ -> None

    let private range (lo: int64) (hi: int64) (v: int64) : Result<int64, string> =
        if v < lo || v > hi then
            Error(sprintf "argument must be between %d and %d inclusive" lo hi)
        else
            Ok v

    let private integerIn lo hi (s: string) =
        match parseInteger s with
        | None -> Error "argument couldn't be parsed into an integer"
        | Some v -> range lo hi v

    let private memoryIn lo hi (s: string) =
        match parseMemory s with
        | None -> Error "argument must be a memory value"
        | Some v -> range lo hi v

    let private yesNo (s: string) =
        match s.ToLowerInvariant() with
        | "yes" -> Ok true
        | "no" -> Ok false
        | _ -> Error "argument must be 'yes' or 'no'"

    let private oneOf (choices: (string * 'a) list) (s: string) =
        let key = s.ToLowerInvariant()

        match choices |> List.tryFind (fun (name, _) -> name = key) with
        | Some(_, v) -> Ok v
        | None ->
            Error(
                "argument(s) must be one of the following: "
                + String.Join(", ", choices |> List.map fst)
            )

    let private showBool b = if b then "yes" else "no"

    // Redis refuses a path where only a file or directory name belongs.
    let private baseName (what: string) (kind: string) (s: string) =
        if s = "" then Error(what + " can't be empty")
        elif s.Contains '/' then Error(sprintf "%s can't be a path, just a %s" what kind)
        else Ok s

    let private logLevels =
        [ "debug", LogLevel.Debug
          "verbose", LogLevel.Verbose
          "notice", LogLevel.Notice
          "warning", LogLevel.Warning ]

    let private fsyncs =
        [ "everysec", AppendFsync.EverySec
          "always", AppendFsync.Always
          "no", AppendFsync.No ]

    let private debugPolicies =
        [ "no", DebugCommandPolicy.No
          "yes", DebugCommandPolicy.Yes
          "local", DebugCommandPolicy.Local ]

    let private nameOf choices v =
        choices |> List.find (fun (_, x) -> x = v) |> fst

    // `save` is ignored (there is no RDB), but its arguments are still checked so a config that
    // Redis would refuse is refused here too: pairs of seconds (at least 1) and changes (at least 0).
    let private checkSave (args: string list) : Result<unit, string> =
        let asNumber (s: string) =
            match Int64.TryParse(s, Globalization.NumberStyles.AllowLeadingSign, Globalization.CultureInfo.InvariantCulture) with
            | true, v -> Some v
            | _ -> None

        let rec pairs =
            function
            | [] -> true
            | seconds :: changes :: rest ->
                match asNumber seconds, asNumber changes with
                | Some s, Some c when s >= 1L && c >= 0L -> pairs rest
                | _ -> false
            | [ _ ] -> false

        match args with
        | []
        | [ "" ] -> Ok()
        | _ when pairs args -> Ok()
        | _ -> Error "Invalid save parameters"

    // ---------------------------------------------------------------------------------------------
    // The directive table.

    type private Mutability =
        | Mutable
        | Immutable
        /// Redis refuses these at run time unless `enable-protected-configs` allows it; that directive
        /// is ignored here, so they are never settable.
        | Protected

    type private Spec =
        { Name: string
          /// Takes any number of words (bind, save); CONFIG SET splits its value on spaces.
          Multi: bool
          Mutability: Mutability
          Apply: string list -> Settings -> Result<Settings, string>
          Show: Settings -> string }

    let private single name mutability (parse: string -> Result<'a, string>) update show =
        { Name = name
          Multi = false
          Mutability = mutability
          Apply =
            fun args settings ->
                match args with
                | [ v ] -> parse v |> Result.map (fun x -> update x settings)
                | _ -> Error "wrong number of arguments"
          Show = show }

    // Redis's bound for a C int; values are stored in .NET ints.
    let private intMax = int64 Int32.MaxValue

    let private specs: Spec list =
        [ single "port" Mutable (integerIn 0L 65535L) (fun v s -> { s with Port = int v }) (fun s -> string s.Port)
          { Name = "bind"
            Multi = true
            Mutability = Mutable
            Apply =
              fun args s ->
                  let addresses =
                      match args with
                      | [ "" ] -> []
                      | _ -> args

                  if List.length addresses > 16 then
                      Error "Too many bind addresses specified."
                  else
                      Ok { s with Bind = Array.ofList addresses }
            Show = fun s -> String.Join(" ", s.Bind) }
          single
              "dir"
              Protected
              (fun v -> if v = "" then Error "No such file or directory" else Ok v)
              (fun v s -> { s with Dir = v })
              (fun s -> s.Dir)
          single "databases" Immutable (integerIn 1L intMax) (fun v s -> { s with Databases = int v }) (fun s ->
              string s.Databases)
          single "logfile" Immutable Ok (fun v s -> { s with LogFile = v }) (fun s -> s.LogFile)
          single "loglevel" Mutable (oneOf logLevels) (fun v s -> { s with LogLevel = v }) (fun s ->
              nameOf logLevels s.LogLevel)
          single "timeout" Mutable (integerIn 0L intMax) (fun v s -> { s with Timeout = int v }) (fun s ->
              string s.Timeout)
          single
              "maxclients"
              Mutable
              (integerIn 1L 4294967295L)
              (fun v s -> { s with MaxClients = int (min v intMax) })
              (fun s -> string s.MaxClients)
          single
              "proto-max-bulk-len"
              Mutable
              (memoryIn (1024L * 1024L) Int64.MaxValue)
              (fun v s -> { s with ProtoMaxBulkLen = v })
              (fun s -> string s.ProtoMaxBulkLen)
          single
              "client-query-buffer-limit"
              Mutable
              (memoryIn (1024L * 1024L) Int64.MaxValue)
              (fun v s -> { s with ClientQueryBufferLimit = v })
              (fun s -> string s.ClientQueryBufferLimit)
          // Redis accepts any non-negative hz and clamps it to what its timer can honour.
          single "hz" Mutable (integerIn 0L intMax) (fun v s -> { s with Hz = int (Math.Clamp(v, 1L, 500L)) }) (fun s ->
              string s.Hz)
          single
              "requirepass"
              Mutable
              Ok
              (fun v s -> { s with RequirePass = if v = "" then None else Some v })
              (fun s -> defaultArg s.RequirePass "")
          single
              "pidfile"
              Immutable
              Ok
              (fun v s -> { s with PidFile = if v = "" then None else Some v })
              (fun s -> defaultArg s.PidFile "")
          // Forking into the background is a supervisor's job; saying so beats silently staying in front.
          single
              "daemonize"
              Immutable
              (fun v ->
                  yesNo v
                  |> Result.bind (fun yes ->
                      if yes then
                          Error "daemonize yes is not supported: run under a supervisor instead"
                      else
                          Ok()))
              (fun () s -> s)
              (fun _ -> "no")
          single
              "enable-debug-command"
              Immutable
              (oneOf debugPolicies)
              (fun v s -> { s with EnableDebugCommand = v })
              (fun s -> nameOf debugPolicies s.EnableDebugCommand)
          single "appendonly" Mutable yesNo (fun v s -> { s with AppendOnly = v }) (fun s -> showBool s.AppendOnly)
          single
              "appendfilename"
              Immutable
              (baseName "appendfilename" "filename")
              (fun v s -> { s with AppendFilename = v })
              (fun s -> s.AppendFilename)
          single
              "appenddirname"
              Immutable
              (baseName "appenddirname" "dirname")
              (fun v s -> { s with AppendDirname = v })
              (fun s -> s.AppendDirname)
          single "appendfsync" Mutable (oneOf fsyncs) (fun v s -> { s with AppendFsync = v }) (fun s ->
              nameOf fsyncs s.AppendFsync)
          single "aof-load-truncated" Mutable yesNo (fun v s -> { s with AofLoadTruncated = v }) (fun s ->
              showBool s.AofLoadTruncated)
          single "aof-timestamp-enabled" Mutable yesNo (fun v s -> { s with AofTimestampEnabled = v }) (fun s ->
              showBool s.AofTimestampEnabled)
          single "aof-use-rdb-preamble" Mutable yesNo (fun v s -> { s with AofUseRdbPreamble = v }) (fun s ->
              showBool s.AofUseRdbPreamble)
          single
              "auto-aof-rewrite-percentage"
              Mutable
              (integerIn 0L intMax)
              (fun v s -> { s with AutoAofRewritePercentage = int v })
              (fun s -> string s.AutoAofRewritePercentage)
          single
              "auto-aof-rewrite-min-size"
              Mutable
              (memoryIn 0L Int64.MaxValue)
              (fun v s -> { s with AutoAofRewriteMinSize = v })
              (fun s -> string s.AutoAofRewriteMinSize)
          single "no-appendfsync-on-rewrite" Mutable yesNo (fun v s -> { s with NoAppendfsyncOnRewrite = v }) (fun s ->
              showBool s.NoAppendfsyncOnRewrite)
          single
              "aof-rewrite-incremental-fsync"
              Mutable
              yesNo
              (fun v s -> { s with AofRewriteIncrementalFsync = v })
              (fun s -> showBool s.AofRewriteIncrementalFsync)
          // No RDB snapshots: accepted and checked so configs written for Redis load, shown as "" (off).
          { Name = "save"
            Multi = true
            Mutability = Mutable
            Apply = fun args s -> checkSave args |> Result.map (fun () -> s)
            Show = fun _ -> "" } ]

    let private specByName = specs |> List.map (fun s -> s.Name, s) |> Map.ofList

    /// How an ignored directive's words are checked. Only arity and a few cheap shapes: the values
    /// have no effect here, and a full validator per directive would be code nobody runs.
    type private IgnoredArity =
        | One
        | Any
        | AtLeastOne
        /// class, hard limit, soft limit, seconds; repeated.
        | Quadruples
        | EnumWords of string list

    // Every other directive of Redis 7.0's config table (with its aliases), by run-time mutability
    // as CONFIG SET reports it there.
    let private ignoredImmutable =
        "aclfile always-show-logo aof_rewrite_cpulist bgsave_cpulist bio_cpulist cluster-config-file \
         cluster-enabled cluster-port disable-thp enable-module-command enable-protected-configs io-threads \
         io-threads-do-reads rdbchecksum replicaof server_cpulist set-proc-title slaveof socket-mark-id \
         supervised syslog-enabled syslog-facility syslog-ident tcp-backlog unixsocket unixsocketperm"

    let private ignoredProtected = "dbfilename"

    let private ignoredMutable =
        "acl-pubsub-default acllog-max-len active-defrag-cycle-max active-defrag-cycle-min \
         active-defrag-ignore-bytes active-defrag-max-scan-fields active-defrag-threshold-lower \
         active-defrag-threshold-upper active-expire-effort activedefrag activerehashing aof-disable-auto-gc \
         busy-reply-threshold bind-source-addr client-output-buffer-limit \
         cluster-allow-pubsubshard-when-down cluster-allow-reads-when-down cluster-allow-replica-migration \
         cluster-announce-bus-port cluster-announce-hostname cluster-announce-ip cluster-announce-port \
         cluster-announce-tls-port cluster-link-sendbuf-limit cluster-migration-barrier cluster-node-timeout \
         cluster-preferred-endpoint-type cluster-replica-no-failover cluster-replica-validity-factor \
         cluster-require-full-coverage cluster-slave-no-failover cluster-slave-validity-factor \
         crash-log-enabled crash-memcheck-enabled dynamic-hz hash-max-listpack-entries hash-max-listpack-value \
         hash-max-ziplist-entries hash-max-ziplist-value hll-sparse-max-bytes ignore-warnings jemalloc-bg-thread \
         latency-monitor-threshold latency-tracking latency-tracking-info-percentiles lazyfree-lazy-eviction \
         lazyfree-lazy-expire lazyfree-lazy-server-del lazyfree-lazy-user-del lazyfree-lazy-user-flush \
         lfu-decay-time lfu-log-factor list-compress-depth list-max-listpack-size list-max-ziplist-size \
         lua-time-limit masterauth masteruser maxmemory maxmemory-clients maxmemory-eviction-tenacity \
         maxmemory-policy maxmemory-samples min-replicas-max-lag min-replicas-to-write min-slaves-max-lag \
         min-slaves-to-write notify-keyspace-events oom-score-adj oom-score-adj-values proc-title-template \
         propagation-error-behavior protected-mode rdb-del-sync-files rdb-save-incremental-fsync \
         rdbcompression repl-backlog-size repl-backlog-ttl repl-disable-tcp-nodelay repl-diskless-load \
         repl-diskless-sync repl-diskless-sync-delay repl-diskless-sync-max-replicas repl-ping-replica-period \
         repl-ping-slave-period repl-timeout replica-announce-ip replica-announce-port replica-announced \
         replica-ignore-disk-write-errors replica-ignore-maxmemory replica-lazy-flush replica-priority \
         replica-read-only replica-serve-stale-data sanitize-dump-payload set-max-intset-entries \
         shutdown-on-sigint shutdown-on-sigterm shutdown-timeout slave-announce-ip slave-announce-port \
         slave-ignore-maxmemory slave-lazy-flush slave-priority slave-read-only slave-serve-stale-data \
         slowlog-log-slower-than slowlog-max-len stop-writes-on-bgsave-error stream-node-max-bytes \
         stream-node-max-entries tcp-keepalive tls-auth-clients tls-ca-cert-dir tls-ca-cert-file \
         tls-cert-file tls-ciphers tls-ciphersuites tls-client-cert-file tls-client-key-file \
         tls-client-key-file-pass tls-cluster tls-dh-params-file tls-key-file tls-key-file-pass tls-port \
         tls-prefer-server-ciphers tls-protocols tls-replication tls-session-cache-size \
         tls-session-cache-timeout tls-session-caching tracking-table-max-keys zset-max-listpack-entries \
         zset-max-listpack-value zset-max-ziplist-entries zset-max-ziplist-value"

    let private words (s: string) =
        s.Split([| ' '; '\n'; '\r'; '\t' |], StringSplitOptions.RemoveEmptyEntries) |> List.ofArray

    let private shutdownWords = [ "default"; "save"; "nosave"; "now"; "force" ]

    let private ignoredArity (name: string) =
        match name with
        | "client-output-buffer-limit" -> Quadruples
        | "latency-tracking-info-percentiles" -> Any
        | "oom-score-adj-values" -> AtLeastOne
        | "shutdown-on-sigint"
        | "shutdown-on-sigterm" -> EnumWords shutdownWords
        | _ -> One

    let private ignoredTable: Map<string, Mutability * IgnoredArity> =
        [ for n in words ignoredImmutable -> n, Immutable
          for n in words ignoredProtected -> n, Protected
          for n in words ignoredMutable -> n, Mutable ]
        |> List.map (fun (n, m) -> n, (m, ignoredArity n))
        |> Map.ofList

    /// Directives handled outside Redis's config table: not CONFIG GET/SET-able there either. The number
    /// is their exact word count (None: at least one).
    let private specialDirectives: Map<string, int option> =
        Map.ofList
            [ "include", Some 1
              "rename-command", Some 2
              "user", None
              "loadmodule", None
              // Removed settings Redis 7.0 still accepts and drops.
              "list-max-ziplist-entries", Some 1
              "list-max-ziplist-value", Some 1
              "lua-replicate-commands", Some 1 ]

    /// A directive this server acts on (and CONFIG GET shows).
    let isSupported (name: string) = specByName.ContainsKey(name.ToLowerInvariant())

    /// A Redis 7.0 directive that is accepted and has no effect here.
    let isIgnored (name: string) =
        let n = name.ToLowerInvariant()

        (ignoredTable.ContainsKey n || specialDirectives.ContainsKey n || n = "sentinel")
        && not (specByName.ContainsKey n)

    /// Any directive a config file may contain.
    let isKnown (name: string) = isSupported name || isIgnored name

    /// Names CONFIG GET can return, in the order it returns them.
    let supportedNames: string list = specs |> List.map _.Name

    /// Every ignored directive name, sorted: for documentation and tests.
    let ignoredNames: string list =
        [ yield! ignoredTable.Keys
          yield! specialDirectives.Keys
          "sentinel" ]
        |> List.sort

    let private errorAt (d: Directive) reason : ConfigError =
        { File = d.File
          Line = d.Line
          LineText = d.LineText
          Reason = reason }

    // ---------------------------------------------------------------------------------------------
    // Parsing text and the command line.

    /// Splits config text into directives: one per line, `#` comments and blank lines skipped, names
    /// lower-cased. Only syntax is checked here; names and values are checked by `build`.
    let parseText (fileName: string) (text: string) : Result<Directive list, ConfigError> =
        let lines = text.Split '\n'

        let rec go i acc =
            if i >= lines.Length then
                Ok(List.rev acc)
            else
                let line = lines[i].Trim([| ' '; '\t'; '\r'; '\n' |])

                if line = "" || line.StartsWith '#' then
                    go (i + 1) acc
                else
                    match splitArgs line with
                    | None ->
                        Error
                            { ConfigError.File = fileName
                              Line = i + 1
                              LineText = line
                              Reason = "Unbalanced quotes in configuration line" }
                    | Some [] -> go (i + 1) acc
                    | Some(name :: args) ->
                        let d: Directive =
                            { Name = name.ToLowerInvariant()
                              Args = args
                              File = fileName
                              Line = i + 1
                              LineText = line }

                        go (i + 1) (d :: acc)

        go 0 []

    /// Whether the first argument asks for help or the version. Redis looks only there, and only for these
    /// exact spellings; later ones are directive words. A plain match rather than Argu: building Argu's
    /// parser costs tens of milliseconds of reflection and JIT on every start, for two flags.
    let private parseFlags (first: string) : bool * bool =
        match first with
        | "-h"
        | "--help" -> true, false
        | "-v"
        | "--version" -> false, true
        | _ -> false, false

    /// `Aof.Server [configfile] [--directive value ...] [-]`, read as redis-server reads it: a first
    /// argument not starting with `-` is the config file; `-` first or last means standard input;
    /// each `--name` opens a directive whose words follow. As in Redis, a `--name` that has no
    /// word yet takes the next one even if it starts with `--` (so `--port --dir` is `port "--dir"`),
    /// except that a bare `--save` before another `--name` or at the end means `save ""`.
    let parseCommandLine (args: string[]) : Result<CommandLine, string> =
        let help, showVersion =
            if args.Length > 0 then parseFlags args[0] else false, false

        if help || showVersion then
            Ok
                { ConfigFile = None
                  Stdin = false
                  Directives = []
                  Help = help
                  Version = showVersion }
        else
            let configFile, start =
                if args.Length > 0 && not (args[0].StartsWith '-') then
                    Some args[0], 1
                else
                    None, 0

            let mutable stdin = false
            let mutable failure = None
            // Newest first; each directive's words newest first too.
            let mutable directives: (string * string list) list = []
            let mutable awaitingWord = false

            for j in start .. args.Length - 1 do
                let a = args[j]
                let isOption (s: string) = s.StartsWith "--"

                if failure.IsSome then
                    ()
                elif a = "-" && (j = 0 || j = args.Length - 1) then
                    stdin <- true
                elif isOption a && not awaitingWord then
                    match splitArgs (a.Substring 2) with
                    | None -> failure <- Some(sprintf "Unbalanced quotes in command line option '%s'" a)
                    | Some [] ->
                        // `--` alone: an empty config line, which Redis skips.
                        directives <- ("", []) :: directives
                    | Some [ name ] ->
                        let isLast = j = args.Length - 1
                        let nextIsOption = not isLast && isOption args[j + 1]

                        if name.ToLowerInvariant() = "save" && (isLast || nextIsOption) then
                            directives <- (name, [ "" ]) :: directives
                        elif name.ToLowerInvariant() = "sentinel" && nextIsOption then
                            directives <- (name, []) :: directives
                        else
                            directives <- (name, []) :: directives
                            awaitingWord <- true
                    | Some(name :: rest) -> directives <- (name, List.rev rest) :: directives
                else
                    awaitingWord <- false

                    match directives with
                    | (name, ws) :: older -> directives <- (name, a :: ws) :: older
                    // Words before any `--name` form a line of their own, as in Redis.
                    | [] -> directives <- [ a, [] ]

            match failure with
            | Some message -> Error message
            | None ->
                Ok
                    { ConfigFile = configFile
                      Stdin = stdin
                      Directives = directives |> List.rev |> List.map (fun (n, ws) -> n, List.rev ws)
                      Help = false
                      Version = false }

    /// The config lines the command-line directives stand for, as redis-server appends them to the
    /// file's text: one per directive, every word quoted.
    let renderDirectives (directives: (string * string list) list) : string =
        let plainName (s: string) =
            s <> ""
            && s |> Seq.forall (fun c -> c > ' ' && c <> '"' && c <> '\'' && c <> '\\' && c <> '\127')

        directives
        |> List.map (fun (name, ws) ->
            if name = "" && List.isEmpty ws then
                ""
            else
                String.Join(" ", (if plainName name then name else quote name) :: List.map quote ws))
        |> String.concat "\n"

    // ---------------------------------------------------------------------------------------------
    // Building settings.

    let private checkIgnored (d: Directive) : Result<unit, ConfigError> =
        let n = d.Name
        let count = List.length d.Args
        let badArity = errorAt d "Bad directive or wrong number of arguments"

        match Map.tryFind n specialDirectives, Map.tryFind n ignoredTable with
        | Some(Some exact), _ -> if count = exact then Ok() else Error badArity
        | Some None, _ -> if count >= 1 then Ok() else Error badArity
        | None, Some(_, arity) ->
            match arity with
            | One -> if count = 1 then Ok() else Error(errorAt d "wrong number of arguments")
            | Any -> Ok()
            | AtLeastOne -> if count >= 1 then Ok() else Error(errorAt d "wrong number of arguments")
            | Quadruples ->
                if count % 4 = 0 then
                    Ok()
                else
                    Error(errorAt d "Wrong number of arguments in buffer limit configuration.")
            | EnumWords allowed ->
                if count >= 1 && d.Args |> List.forall (fun a -> List.contains (a.ToLowerInvariant()) allowed) then
                    Ok()
                else
                    Error(errorAt d ("argument(s) must be one of the following: " + String.Join(", ", allowed)))
        | None, None when n = "sentinel" ->
            // Sentinel is a different program; a bare `sentinel` line is tolerated as Redis does.
            if count = 0 then
                Ok()
            else
                Error(errorAt d "sentinel directive while not in sentinel mode")
        | None, None -> Error(errorAt d "Bad directive or wrong number of arguments")

    /// Applies directives in order over `defaults`: later ones win. Returns the settings and the
    /// ignored directive names (each once, in order of first appearance), or the first error.
    let build (directives: Directive list) : Result<Settings * string list, ConfigError> =
        let rec go settings ignored (ds: Directive list) =
            match ds with
            | [] -> Ok(settings, List.rev ignored)
            | d :: rest ->
                match Map.tryFind d.Name specByName with
                | Some spec ->
                    if not spec.Multi && List.length d.Args <> 1 then
                        Error(errorAt d "wrong number of arguments")
                    else
                        match spec.Apply d.Args settings with
                        | Ok s -> go s ignored rest
                        | Error reason -> Error(errorAt d reason)
                | None ->
                    match checkIgnored d with
                    | Error e -> Error e
                    | Ok() ->
                        let ignored = if List.contains d.Name ignored then ignored else d.Name :: ignored
                        go settings ignored rest

        go defaults [] directives

    // Nested includes are followed this deep; a file that includes itself would otherwise never end.
    let private maxIncludeDepth = 16

    let private cantOpen (path: string) (reason: string) =
        let shown =
            try
                Path.GetFullPath path
            with _ ->
                path

        sprintf "Fatal error, can't open config file '%s': %s" shown reason

    /// Replaces each `include path` with the directives of that file, in place, so precedence follows
    /// position exactly as when Redis reads the included file at that point.
    let expandIncludes
        (readFile: string -> Result<string, string>)
        (directives: Directive list)
        : Result<Directive list, string> =
        let rec expand depth (ds: Directive list) : Result<Directive list, string> =
            let folder (acc: Result<Directive list, string>) (d: Directive) =
                match acc with
                | Error e -> Error e
                | Ok sofar ->
                    match d.Name, d.Args with
                    | "include", [ path ] ->
                        if depth >= maxIncludeDepth then
                            Error(ConfigError.format (errorAt d "include nesting is too deep (an include loop?)"))
                        else
                            match readFile path with
                            | Error reason -> Error(cantOpen path reason)
                            | Ok text ->
                                match parseText path text with
                                | Error e -> Error(ConfigError.format e)
                                | Ok inner ->
                                    expand (depth + 1) inner
                                    |> Result.map (fun expanded -> List.rev expanded @ sofar)
                    | "include", _ -> Error(ConfigError.format (errorAt d "Bad directive or wrong number of arguments"))
                    | _ -> Ok(d :: sofar)

            ds |> List.fold folder (Ok []) |> Result.map List.rev

        expand 0 directives

    /// Reads the configuration the command line names and builds the settings. `readFile` is given
    /// "-" for standard input. Help and Version are not acted on here: callers check
    /// `parseCommandLine` first. Error is the complete message to print before exiting with status 1.
    let loadCommandLine
        (cl: CommandLine)
        (readFile: string -> Result<string, string>)
        : Result<Settings * string list, string> =
        let read path =
            readFile path |> Result.mapError (cantOpen path)

        let fileText =
            match cl.ConfigFile with
            | Some path -> read path
            | None -> Ok ""

        let stdinText = if cl.Stdin then read "-" else Ok ""

        match fileText, stdinText with
        | Error e, _
        | _, Error e -> Error e
        | Ok file, Ok input ->
            // Same layout as redis-server, so error line numbers agree with it: the options follow the
            // file's text after one newline.
            let text =
                if List.isEmpty cl.Directives then
                    file + input
                else
                    file + input + "\n" + renderDirectives cl.Directives

            let name = cl.ConfigFile |> Option.defaultValue (if cl.Stdin then "-" else "")

            parseText name text
            |> Result.mapError ConfigError.format
            |> Result.bind (expandIncludes readFile)
            |> Result.bind (build >> Result.mapError ConfigError.format)

    /// `parseCommandLine` then `loadCommandLine`.
    let load (args: string[]) (readFile: string -> Result<string, string>) : Result<Settings * string list, string> =
        parseCommandLine args |> Result.bind (fun cl -> loadCommandLine cl readFile)

    /// A `readFile` for `load` backed by the real file system; "-" reads standard input to its end.
    /// Reasons use the C library's wording, as Redis prints them.
    let readFileOrStdin (path: string) : Result<string, string> =
        try
            if path = "-" then
                Ok(Console.In.ReadToEnd())
            else
                Ok(File.ReadAllText path)
        with
        | :? FileNotFoundException
        | :? DirectoryNotFoundException -> Error "No such file or directory"
        | :? UnauthorizedAccessException -> Error "Permission denied"
        | :? IOException as e -> Error e.Message

    // ---------------------------------------------------------------------------------------------
    // CONFIG GET / CONFIG SET.

    let private hasGlob (pattern: string) = pattern.IndexOfAny([| '*'; '?'; '['; '\\' |]) >= 0

    /// CONFIG GET for one pattern: (name, value) pairs for the supported directives it matches,
    /// case-insensitively. A plain name is echoed as the caller spelled it, as Redis 7.0 does.
    let get (pattern: string) (settings: Settings) : (string * string) list =
        if not (hasGlob pattern) then
            match Map.tryFind (pattern.ToLowerInvariant()) specByName with
            | Some spec -> [ pattern, spec.Show settings ]
            | None -> []
        else
            let p = Bytes.ofString pattern

            specs
            |> List.filter (fun spec -> Glob.isMatch p (Bytes.ofString spec.Name) true)
            |> List.map (fun spec -> spec.Name, spec.Show settings)

    let private setFailed (name: string) (reason: string) =
        sprintf "ERR CONFIG SET failed (possibly related to argument '%s') - %s" name reason

    /// CONFIG SET's first look at a name, before any value is read: an unknown name, or one that cannot
    /// change at runtime, refuses the whole command (named as the caller spelled it, as Redis 7.0 does).
    let checkName (name: string) : Result<unit, string> =
        let key = name.ToLowerInvariant()

        let mutability =
            match Map.tryFind key specByName, Map.tryFind key ignoredTable with
            | Some spec, _ -> Some spec.Mutability
            | None, Some(mutability, _) -> Some mutability
            | None, None -> None

        match mutability with
        | None -> Error(sprintf "ERR Unknown option or number of arguments for CONFIG SET - '%s'" name)
        | Some Immutable -> Error(setFailed name "can't set immutable config")
        | Some Protected -> Error(setFailed name "can't set protected config")
        | Some Mutable -> Ok()

    /// CONFIG SET for one name/value pair. Error is the reply text, starting with `ERR`. Ignored
    /// directives that Redis lets CONFIG SET change are accepted and change nothing, so scripts
    /// written for Redis (`CONFIG SET maxmemory-policy ...`) keep working.
    let set (name: string) (value: string) (settings: Settings) : Result<Settings, string> =
        let key = name.ToLowerInvariant()

        match Map.tryFind key specByName, Map.tryFind key ignoredTable with
        | Some spec, _ ->
            match spec.Mutability with
            | Immutable -> Error(setFailed key "can't set immutable config")
            | Protected -> Error(setFailed key "can't set protected config")
            | Mutable ->
                let args = if spec.Multi then words value else [ value ]
                spec.Apply args settings |> Result.mapError (setFailed key)
        | None, Some(mutability, arity) ->
            match mutability with
            | Immutable -> Error(setFailed key "can't set immutable config")
            | Protected -> Error(setFailed key "can't set protected config")
            | Mutable ->
                let args =
                    match arity with
                    | One -> [ value ]
                    | _ -> words value

                let d: Directive =
                    { Name = key
                      Args = args
                      File = ""
                      Line = 0
                      LineText = "" }

                checkIgnored d |> Result.map (fun () -> settings) |> Result.mapError (fun e -> setFailed key e.Reason)
        | None, None -> Error(sprintf "ERR Unknown option or number of arguments for CONFIG SET - '%s'" name)

/// Opens the log the settings describe.
[<AutoOpen>]
module LogExtensions =
    type Log with
        /// `logfile` "" is standard output; Error is Redis's `Can't open the log file: <reason>`.
        static member Create(settings: Settings) : Result<Log, string> =
            Log.Open(settings.LogFile, settings.LogLevel)
