namespace Aof.Engine

// The executor. Redis's atomicity comes from running one command at a time; here every connection's
// batch runs under one lock, in arrival order, against the keyspace value that each decision replaces with
// the next. Between snapshots the executor edits the nodes it made itself in place (Keyspace.own), since
// nobody else can see them; a reader that keeps the keyspace beyond the lock (a rewrite, Server.Keyspace)
// gets a frozen copy, taken in O(1) by starting a new owner, and needs no lock at all after that.
//
// A batch: for each command, check it, decide it against the current keyspace and the clock, apply its
// events, append them to the AOF buffer, write its reply into the connection's output buffer. After the
// lock is released the batch is committed to the AOF (AofLog's protocol), and only then does Execute
// return: the host flushes replies after that, so no reply leaves before its write is in the file.

open System
open System.Buffers
open System.Collections.Concurrent
open System.Collections.Generic
open System.IO
open System.Threading
open Aof.Core

/// What the host needs to know to listen and to police connections.
type HostSettings =
    { Bind: string[]
      Port: int
      MaxClients: int
      /// Bytes a client may have buffered unparsed before it is closed (`client-query-buffer-limit`).
      ClientQueryBufferLimit: int64
      Resp: RespLimits }

/// The engine: owns the dataset and executes every client's commands one batch at a time.
[<Sealed; AllowNullLiteral>]
type Server private (initial: Settings, log: Log, configFile: string, hooks: EngineHooks) =
    let gate = obj ()
    let persistence = Persistence(initial, log, hooks, (fun f -> lock gate f))
    // The highest AOF commit point appended during the current Execute (under the lock).
    let mutable commitPoint = 0L
    // While EXEC runs, its commands' events are gathered here and logged as one MULTI/EXEC unit.
    let mutable inExec = false
    let execEvents = List<Event>()
    let mutable activeExpire = true
    let mutable exitCode = 0
    let mutable settings = initial
    let mutable keyspace = Keyspace.create initial.Databases
    // The executor edits the nodes of its own keyspace in place (Keyspace.own): it only ever uses the newest
    // keyspace, under the lock. Whatever outlives the lock (a rewrite's snapshot, a reader on another thread)
    // gets a frozen copy, and the executor takes a new owner at that moment, so the copy never changes.
    let mutable owner = ChampOwner(false)

    let ownKeyspace () =
        if not (Keyspace.ownedBy owner keyspace) then keyspace <- Keyspace.own owner keyspace

    /// The keyspace as it is now, as a value no later write changes. Call under the lock.
    let snapshot () : Keyspace =
        let frozen = Keyspace.frozen keyspace
        owner <- ChampOwner(false)
        keyspace <- Keyspace.own owner keyspace
        frozen
    let stats = Stats()
    let sessions = ConcurrentDictionary<int64, Session>()
    let mutable nextId = 0L
    let shutdown = new CancellationTokenSource()
    let rng = Random()
    let startedMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()
    let runId = Convert.ToHexString(Security.Cryptography.RandomNumberGenerator.GetBytes 20).ToLowerInvariant()
    let mutable stopped = 0
    let mutable timer: Timer = null
    // instantaneous_ops_per_sec: the mean of the last 16 samples taken by the timer, as Redis does.
    let opsSamples = Array.zeroCreate<int64> 16
    let mutable opsIndex = 0
    let mutable lastSampleMs = startedMs
    let mutable lastSampleCommands = 0L
    let blocked = BlockedClients()
    // A blocking command that found nothing to serve: Execute parks its client once the command returns.
    let mutable parking: struct (Command * float) voption = ValueNone

    static let epochTicks = DateTime.UnixEpoch.Ticks

    static let nowMicros () = (DateTime.UtcNow.Ticks - epochTicks) / 10L

    let hostSettings (s: Settings) =
        { Bind = s.Bind
          Port = s.Port
          MaxClients = s.MaxClients
          ClientQueryBufferLimit = s.ClientQueryBufferLimit
          Resp =
            { RespLimits.Default with
                MaxBulkLen = s.ProtoMaxBulkLen } }

    // Read by every connection on every read, so kept ready rather than rebuilt.
    let mutable limits = (hostSettings initial).Resp

    let ctx (micros: int64) =
        { Now = micros / 1000L
          NowMicros = micros
          Random = uint64 (rng.NextInt64())
          MaxBulkLen = settings.ProtoMaxBulkLen }

    /// Logs one atomic unit of events (under the lock); the batch commits it before replying.
    let record (events: Event list) =
        match events with
        | [] -> ()
        | evs ->
            stats.Dirty <- stats.Dirty + int64 evs.Length

            if inExec then execEvents.AddRange evs
            elif persistence.Enabled then commitPoint <- persistence.Append evs

    /// Applies facts decided elsewhere (the expiry cycle), each its own unit.
    let applyEvents (events: Event list) =
        for e in events do
            keyspace <- Evolve.apply keyspace e
            record [ e ]

    let applyDecision (d: Decision) =
        if d.Hits <> 0 then stats.KeyspaceHits <- stats.KeyspaceHits + int64 d.Hits
        if d.Misses <> 0 then stats.KeyspaceMisses <- stats.KeyspaceMisses + int64 d.Misses
        if d.Expired <> 0 then stats.ExpiredKeys <- stats.ExpiredKeys + int64 d.Expired
        record d.Events
        if blocked.Count > 0 && not d.Events.IsEmpty then blocked.NoteWritten d.Events

    /// A decision that does not go through (a client that waits, or is not served) keeps the expired keys it
    /// deleted on the way: they stay deleted, and logged, as Redis deletes and propagates an expired key on
    /// any access (the live keyspace, edited in place, has lost them already).
    let keepExpiredDeletions (ks: Keyspace) (d: Decision) =
        if not d.Events.IsEmpty then
            keyspace <- ks
            applyDecision d

    let runData (session: Session) (micros: int64) (cmd: Command) : Reply =
        let struct (ks, d) = Decide.step (ctx micros) keyspace session.Db cmd

        if d.Blocked then
            keepExpiredDeletions ks d

            match Command.blocking cmd with
            // Inside MULTI a blocking command cannot wait: it answers at once, as in Redis.
            | ValueSome(struct (_, multiReply)) when inExec -> multiReply
            | ValueSome(struct (timeout, multiReply)) ->
                parking <- ValueSome(struct (cmd, timeout))
                multiReply
            | ValueNone -> d.Reply
        else
            keyspace <- ks
            applyDecision d
            d.Reply

    /// Serves blocked clients whose keys were written, in the order they blocked, as Redis does after each
    /// command: each is decided again now, and served unless it would still block (or its key now holds the
    /// wrong type). What a served client writes (LMOVE's destination) can make more keys ready.
    let serveReady (micros: int64) =
        while blocked.AnyReady && blocked.Count > 0 do
            for s in blocked.TakeCandidates() do
                let b = s.Blocked

                if not (isNull b) && b.Waiting then
                    let struct (ks, d) = Decide.step (ctx micros) keyspace b.Db b.Cmd

                    match d.Reply with
                    | Reply.Error _ -> keepExpiredDeletions ks d
                    | _ when d.Blocked -> keepExpiredDeletions ks d
                    | r ->
                        keyspace <- ks
                        blocked.Unregister(s, b)
                        applyDecision d
                        b.Reply <- r
                        b.Wake()

        blocked.ClearReady()

    /// Parks a client whose blocking command found nothing: it waits on the command's keys until a write
    /// serves it, its timeout passes, or it goes away.
    let park (session: Session) (cmd: Command) (timeout: float) (pending: List<byte[][]>) =
        let keys = Command.keys cmd |> Array.distinctBy Bytes.toString
        let b = Blocked(session.Db, cmd, keys, pending)
        blocked.Park(session, b)

        if timeout > 0.0 then
            let fire (_: obj) =
                lock gate (fun () ->
                    if b.Waiting then
                        // Redis 7.0 answers every blocking list and sorted-set timeout with the null array.
                        blocked.Unregister(session, b)
                        b.Reply <- Reply.NilArray
                        b.Wake())

            b.Timer <- new Timer(fire, null, int64 (Math.Ceiling(timeout * 1000.0)), -1L)

    let watchedChanged (session: Session) (now: int64) =
        let mutable changed = false

        for w in session.Watched do
            let current = Champ.tryFind w.WKey (Keyspace.db w.WDb keyspace).Keys

            if not (Entry.sameWrite current w.WEntry) then
                changed <- true
            else
                match current with
                | ValueSome e when not w.WWasExpired && Expiry.isExpired now e -> changed <- true
                | _ -> ()

        changed

    let infoInput (now: int64) =
        let avg = Array.sum opsSamples / int64 opsSamples.Length

        { Settings = settings
          Stats = stats
          Keyspace = keyspace
          ConnectedClients = sessions.Count
          BlockedClients = blocked.Count
          StartedMs = startedMs
          NowMs = now
          RunId = runId
          ConfigFile = configFile
          OpsPerSec = avg
          Aof = persistence.Info }

    let requestShutdown (why: string) =
        if not shutdown.IsCancellationRequested then
            if not (isNull why) then log.Warning why

            try
                shutdown.Cancel()
            with _ ->
                ()

    let misconfText (reason: string) = "MISCONF Errors writing to the AOF file: " + reason
    let misconf (reason: string) = Reply.Error(misconfText reason)

    let debugAllowed (session: Session) =
        match settings.EnableDebugCommand with
        | DebugCommandPolicy.Yes -> true
        | DebugCommandPolicy.Local -> session.Addr.StartsWith "127." || session.Addr.StartsWith "[::1]" || session.Addr.StartsWith "::1"
        | DebugCommandPolicy.No -> false

    let debug (session: Session) (d: Debug) : Reply =
        if not (debugAllowed session) then
            Reply.Error
                "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server."
        else
            match d with
            // Redis answers both with status replies (+<40 hex digits>), not bulk strings.
            | Debug.Digest -> Reply.Simple(Digest.dataset keyspace)
            | Debug.DigestValue keys ->
                Reply.Array [| for k in keys -> Reply.Simple(Digest.value (Champ.tryFind k (Keyspace.db session.Db keyspace).Keys)) |]
            | Debug.Sleep seconds ->
                // Redis sleeps in its only thread: everyone waits, which is what tests use it for.
                Thread.Sleep(TimeSpan.FromSeconds seconds)
                Reply.ok
            | Debug.SetActiveExpire on ->
                activeExpire <- on
                Reply.ok
            | Debug.LoadAof ->
                // Other clients get -LOADING meanwhile: the lock is let go while the files are replayed.
                Monitor.Exit gate

                let reloaded =
                    try
                        try
                            persistence.Reload(Keyspace.databases keyspace)
                        with e ->
                            Error e.Message
                    finally
                        Monitor.Enter gate

                match reloaded with
                | Ok ks ->
                    keyspace <- ks
                    persistence.Loaded()
                    stats.Dirty <- 0L
                    log.Warning "Append Only File loaded by DEBUG LOADAOF"
                    Reply.ok
                | Error e ->
                    persistence.Loaded()
                    log.Warning e
                    Reply.Error("ERR " + e)

    let rec runControl (session: Session) (micros: int64) (c: Control) : Reply =
        let now = micros / 1000L

        match c with
        | Control.Select db ->
            if db < 0 || db >= Keyspace.databases keyspace then Reply.dbIndexOutOfRange
            else
                session.Db <- db
                Reply.ok
        | Control.Multi ->
            if session.InMulti then Reply.Error "ERR MULTI calls can not be nested"
            else
                session.InMulti <- true
                Reply.ok
        | Control.Exec ->
            if not session.InMulti then
                Reply.Error "ERR EXEC without MULTI"
            elif session.QueuedWrite && persistence.WriteError.IsSome then
                // Writes queued before the AOF failed: Redis refuses the EXEC and discards the transaction.
                session.ResetMulti()
                Reply.Error("EXECABORT Transaction discarded because of: " + misconfText persistence.WriteError.Value)
            elif session.MultiFailed then
                session.ResetMulti()
                Reply.Error "EXECABORT Transaction discarded because of previous errors."
            elif watchedChanged session now then
                session.ResetMulti()
                Reply.NilArray
            else
                let queued = session.Queue.ToArray()
                session.ResetMulti()
                inExec <- true
                execEvents.Clear()

                let replies =
                    try
                        queued
                        |> Array.map (fun q ->
                            match q with
                            | Error e -> e
                            | Ok(Request.Data cmd) -> runData session micros cmd
                            | Ok(Request.Control c) -> runControl session micros c)
                    finally
                        inExec <- false

                // The transaction's writes go to the log as one unit: MULTI ... EXEC when there are several.
                if execEvents.Count > 0 && persistence.Enabled then
                    commitPoint <- persistence.Append(List.ofSeq execEvents)

                execEvents.Clear()
                Reply.Array replies
        | Control.Discard ->
            if not session.InMulti then Reply.Error "ERR DISCARD without MULTI"
            else
                session.ResetMulti()
                Reply.ok
        | Control.Watch keys ->
            if session.InMulti then
                Reply.Error "ERR WATCH inside MULTI is not allowed"
            else
                for k in keys do
                    let e = Champ.tryFind k (Keyspace.db session.Db keyspace).Keys

                    session.Watched.Add
                        { WDb = session.Db
                          WKey = k
                          WEntry = e
                          WWasExpired =
                            match e with
                            | ValueSome e -> Expiry.isExpired now e
                            | ValueNone -> false }

                Reply.ok
        | Control.Unwatch ->
            session.Watched.Clear()
            Reply.ok
        | Control.Info sections -> Reply.bulkString (Info.render sections (infoInput now))
        | Control.ConfigGet patterns ->
            let pairs = patterns |> List.collect (fun p -> Config.get p settings) |> List.distinctBy fst
            Reply.Array [| for (k, v) in pairs do yield Reply.bulkString k; yield Reply.bulkString v |]
        | Control.ConfigSet pairs ->
            // The host listens once, at start-up: moving it is not supported at runtime.
            let fixedHere (k: string) = k = "port" || k = "bind"

            // As Redis does: every name is looked at (unknown, immutable, given twice) before any value is,
            // and nothing changes unless every pair applies.
            let named = HashSet<string>()

            let names =
                pairs
                |> List.fold
                    (fun acc (k, _) ->
                        acc
                        |> Result.bind (fun () ->
                            if fixedHere (k.ToLowerInvariant()) then
                                Error(sprintf "ERR CONFIG SET failed (possibly related to argument '%s') - can't set immutable config" k)
                            else
                                Config.checkName k)
                        |> Result.bind (fun () ->
                            if named.Add(k.ToLowerInvariant()) then Ok()
                            else Error(sprintf "ERR CONFIG SET failed (possibly related to argument '%s') - duplicate parameter" k)))
                    (Ok())

            let folded =
                names
                |> Result.bind (fun () -> pairs |> List.fold (fun acc (k, v) -> acc |> Result.bind (Config.set (k.ToLowerInvariant()) v)) (Ok settings))

            let applied =
                folded
                |> Result.bind (fun s ->
                    match persistence.Reconfigure(s, snapshot, now) with
                    | Ok() -> Ok s
                    | Error reason ->
                        // Only turning the log on fails here; the settings stay as they were.
                        log.Warning "Failed applying new configuration. Possibly related to new appendonly setting. Restoring previous settings."
                        Error(sprintf "ERR CONFIG SET failed (possibly related to argument 'appendonly') - %s" reason))

            match applied with
            | Ok s ->
                settings <- s
                limits <- (hostSettings s).Resp
                log.Level <- s.LogLevel
                Reply.ok
            | Error e -> Reply.Error e
        | Control.ConfigResetStat ->
            stats.Reset()
            Reply.ok
        | Control.ConfigRewrite -> Reply.Error "ERR The server is running without a config file"
        | Control.ClientSetName name ->
            if not (Clients.validName name) then
                Reply.Error "ERR Client names cannot contain spaces, newlines or special characters."
            else
                session.Name <- name
                Reply.ok
        | Control.ClientGetName -> if session.Name.Length = 0 then Reply.Nil else Reply.Bulk session.Name
        | Control.ClientId -> Reply.Integer session.Id
        | Control.ClientInfo -> Reply.bulkString (Clients.line session now + "\n")
        | Control.ClientList ->
            let lines = sessions.Values |> Seq.sortBy (fun s -> s.Id) |> Seq.map (fun s -> Clients.line s now + "\n")
            Reply.bulkString (String.Concat lines)
        | Control.ClientKill filters ->
            match Clients.kill sessions.Values session filters with
            | Ok n -> Reply.Integer(int64 n)
            | Error e -> e
        | Control.ClientKillAddr addr ->
            match Clients.kill sessions.Values session [ "addr", addr; "skipme", "no" ] with
            | Ok 0 -> Reply.Error "ERR No such client"
            | Ok _ -> Reply.ok
            | Error e -> e
        | Control.ClientNoEvict -> Reply.ok
        | Control.CommandCount -> Reply.Integer(int64 Command.all.Length)
        | Control.CommandList -> Reply.Array [| for (n, a) in Command.all -> Clients.commandInfo n a |]
        | Control.CommandInfo names ->
            Reply.Array
                [| for n in names ->
                       match Command.all |> List.tryFind (fun (c, _) -> c = n) with
                       | Some(c, a) -> Clients.commandInfo c a
                       | None -> Reply.NilArray |]
        | Control.CommandDocs names ->
            let wanted = if names.IsEmpty then Command.all |> List.map fst else names |> List.filter (fun n -> Command.all |> List.exists (fun (c, _) -> c = n))
            Reply.Array [| for n in wanted do yield Reply.bulkString n; yield Reply.emptyArray |]
        | Control.Quit ->
            session.IsClosing <- true
            Reply.ok
        | Control.Reset ->
            session.ResetMulti()
            session.Db <- 0
            session.Name <- [||]
            session.Authenticated <- settings.RequirePass.IsNone
            Reply.Simple "RESET"
        | Control.Shutdown _ ->
            session.IsClosing <- true
            // Stop logs "User requested shutdown...", as Redis does once for SHUTDOWN.
            requestShutdown null
            Reply.ok
        | Control.Hello(version, auth, name) -> Clients.hello settings.RequirePass session version auth name
        | Control.Debug d -> debug session d
        | Control.BgRewriteAof ->
            match persistence.StartRewrite snapshot with
            | Ok() -> Reply.Simple "Background append only file rewriting started"
            | Error e -> Reply.Error e
        | Control.Auth(user, password) ->
            match settings.RequirePass with
            | None when user.IsNone ->
                Reply.Error
                    "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"
            | Some required when password = required && (user.IsNone || user = ValueSome "default") ->
                session.Authenticated <- true
                Reply.ok
            | None when user = ValueSome "default" ->
                session.Authenticated <- true
                Reply.ok
            | _ -> Reply.Error "WRONGPASS invalid username-password pair or user is disabled."

    /// Whether a command may run inside MULTI immediately instead of being queued.
    let runsInsideMulti (c: Control) =
        match c with
        | Control.Exec
        | Control.Discard
        | Control.Multi
        | Control.Watch _
        | Control.Quit
        | Control.Reset -> true
        | _ -> false

    let dispatch (session: Session) (micros: int64) (args: byte[][]) : Reply =
        stats.TotalCommands <- stats.TotalCommands + 1L
        session.LastInteractionMs <- micros / 1000L

        match Command.lookup args with
        | ValueNone ->
            if session.InMulti then session.MultiFailed <- true
            if args.Length = 0 then Reply.Error "ERR empty command" else Command.unknownCommand args
        | ValueSome spec ->
            session.LastCommand <- spec.Name

            // Refusals in Redis's order: arity, authentication, a failing AOF, loading.
            if not (Command.arityOk spec args.Length) then
                if session.InMulti then session.MultiFailed <- true
                Reply.wrongArity spec.Name
            elif settings.RequirePass.IsSome
                 && not session.Authenticated
                 && not (spec.Name = "auth" || spec.Name = "hello" || spec.Name = "quit" || spec.Name = "reset") then
                Reply.Error "NOAUTH Authentication required."
            elif (spec.Write || spec.Name = "ping") && persistence.WriteError.IsSome then
                // As Redis: while the AOF cannot be written, writes are refused inside MULTI too (not queued,
                // and EXEC will abort), and so is PING, so that a health check notices.
                if session.InMulti then session.MultiFailed <- true
                misconf persistence.WriteError.Value
            elif persistence.Loading && not spec.WhileLoading then
                Reply.Error "LOADING Redis is loading the dataset in memory"
            else
                let parsed = spec.Parse args

                if session.InMulti then
                    match parsed with
                    | Ok(Request.Control c) when runsInsideMulti c -> runControl session micros c
                    | other ->
                        if spec.Write then session.QueuedWrite <- true
                        session.Queue.Add other
                        Reply.queued
                else
                    match parsed with
                    | Error e -> e
                    | Ok(Request.Data cmd) -> runData session micros cmd
                    | Ok(Request.Control c) -> runControl session micros c

    /// The timer's work (Redis's serverCron): active expiry, idle-client timeouts, the ops/sec sample.
    let cron () =
        let mutable upTo = 0L
        let mutable aofLog: AofLog option = None

        if Monitor.TryEnter(gate, 100) then
            try
                let micros = nowMicros ()
                let now = micros / 1000L
                ownKeyspace ()

                if activeExpire && not persistence.Loading then
                    let evs = Expire.activeCycle now (uint64 (rng.NextInt64())) 16 keyspace

                    if not evs.IsEmpty then
                        commitPoint <- 0L
                        applyEvents evs
                        stats.ExpiredKeys <- stats.ExpiredKeys + int64 evs.Length

                persistence.Cron snapshot

                if settings.Timeout > 0 then
                    for s in sessions.Values do
                        if now - s.LastInteractionMs > int64 settings.Timeout * 1000L then
                            log.Verbose "Closing idle client"
                            s.Kill()

                let elapsed = now - lastSampleMs

                if elapsed > 0L then
                    opsSamples[opsIndex] <- (stats.TotalCommands - lastSampleCommands) * 1000L / elapsed
                    opsIndex <- (opsIndex + 1) % opsSamples.Length
                    lastSampleMs <- now
                    lastSampleCommands <- stats.TotalCommands

                upTo <- commitPoint
                commitPoint <- 0L
                aofLog <- persistence.Current
            finally
                Monitor.Exit gate

            if upTo > 0L then aofLog |> Option.iter (fun l -> l.AskDurable upTo)

    member private _.StartTimer() =
        let period = max 2 (1000 / max 1 settings.Hz)
        timer <- new Timer((fun _ -> cron ()), null, period, period)

    /// Parses `redis-server`-style arguments (`[configfile] [--directive value ...]`), logs the start-up
    /// lines and loads data. Error carries the message to print and the process exit code.
    static member Start(args: string[]) : Result<Server, struct (string * int)> =
        Server.StartWith(args, EngineHooks.Default)

    /// Start with other hooks: the seam fault-injection tests go through (files, and the fatal exit).
    static member StartWith(args: string[], hooks: EngineHooks) : Result<Server, struct (string * int)> =
        match Config.parseCommandLine args with
        | Error message -> Error(struct (message, 1))
        | Ok cl when cl.Help -> Error(struct (Config.usage, 0))
        | Ok cl when cl.Version -> Error(struct (Config.versionText, 0))
        | Ok cl ->
            match Config.load args Config.readFileOrStdin with
            | Error message -> Error(struct (message, 1))
            | Ok(settings, ignored) ->
                match Log.Open(settings.LogFile, settings.LogLevel) with
                | Error message -> Error(struct (message, 1))
                | Ok log ->
                    try
                        let pid = Environment.ProcessId
                        log.Notice "oO0OoO0OoO0Oo Aof is starting oO0OoO0OoO0Oo"
                        log.Notice(sprintf "Aof version=%s (Redis %s compatible), bits=64, PID: %d, just started" Config.version Info.version pid)

                        let configFile =
                            match cl.ConfigFile with
                            | Some f -> Path.GetFullPath f
                            | None -> ""

                        log.Notice(if configFile = "" then "Configuration loaded (no config file: defaults and arguments)" else "Configuration loaded")

                        for name in ignored do
                            log.Notice(sprintf "Directive '%s' has no effect in this server and is ignored" name)

                        Directory.CreateDirectory settings.Dir |> ignore
                        log.Notice(sprintf "Running mode=standalone, port=%d." settings.Port)
                        settings.PidFile |> Option.iter (fun p -> File.WriteAllText(p, string pid + "\n"))
                        if settings.AppendOnly && settings.AofUseRdbPreamble then
                            log.Notice "aof-use-rdb-preamble yes: the RDB preamble is not written yet, the base is plain AOF"

                        let server = new Server(settings, log, configFile, hooks)
                        log.Notice "Server initialized"
                        server.StartTimer()
                        Ok server
                    with e ->
                        log.Warning(sprintf "Can't start: %s" e.Message)
                        Error(struct (sprintf "Can't start: %s" e.Message, 1))

    member _.Settings = hostSettings settings

    /// The protocol limits for this client's next read: Redis allows only small requests before AUTH.
    member _.Limits(session: Session) : RespLimits =
        let l = limits
        if session.Authenticated then l else { l with Unauthenticated = true }
    member _.Log = log

    /// The current dataset as a value no later write changes, safe to read from any thread. Each call takes
    /// the executor's lock and freezes its nodes (its next writes copy their paths again, as after any
    /// snapshot), so it is for looking, not for polling in a tight loop.
    member _.Keyspace: Keyspace = lock gate snapshot

    /// Called by the host once it listens. With the AOF on, the data is loaded now, on its own thread, while
    /// clients that connect meanwhile get -LOADING; a fatal loading error stops the server with exit code 1.
    member this.Ready() : unit =
        if not persistence.Loading then
            log.Notice "Ready to accept connections tcp"
        else
            let load () =
                match this.LoadNow() with
                | Ok() -> log.Notice "Ready to accept connections tcp"
                | Error message ->
                    log.Warning message
                    exitCode <- 1
                    requestShutdown "Fatal error loading the append only file: exiting"

            Thread(load, IsBackground = true, Name = "aof-load").Start()

    /// Loads the data synchronously (no clients yet): for embedding the engine and for tests.
    member _.LoadNow() : Result<unit, string> =
        if not persistence.Loading then
            Ok()
        else
            match persistence.LoadAtStart() with
            | Ok ks ->
                Monitor.Enter gate

                try
                    keyspace <- ks
                    persistence.Loaded()
                finally
                    Monitor.Exit gate

                Ok()
            | Error e -> Error e

    /// The process exit code the server wants (1 after a fatal loading error).
    member _.ExitCode = exitCode

    /// A new connection. ValueNone when `maxclients` is reached: the host then writes
    /// `-ERR max number of clients reached` and closes.
    member _.Connect(remoteEndPoint: string, localEndPoint: string) : Session voption =
        if sessions.Count >= settings.MaxClients then
            lock gate (fun () -> stats.RejectedConnections <- stats.RejectedConnections + 1L)
            ValueNone
        else
            let s =
                Session(Interlocked.Increment &nextId, remoteEndPoint, localEndPoint, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds())

            s.Authenticated <- settings.RequirePass.IsNone
            sessions[s.Id] <- s
            lock gate (fun () -> stats.TotalConnections <- stats.TotalConnections + 1L)
            ValueSome s

    /// Executes one read's complete commands in order and writes their replies to `output`. The host sends
    /// the replies once the returned task completes: at once, unless `appendfsync always` must first see the
    /// batch's writes synced (then the socket threads serve other clients meanwhile). A blocking command
    /// that must wait stops the batch there: the host then waits for `session.Blocked.Woken` and calls Resume.
    member this.Execute(session: Session, commands: List<byte[][]>, output: IBufferWriter<byte>) : Tasks.ValueTask =
        Monitor.Enter gate
        this.RunLocked(session, null, commands, output)

    /// A host with its own event loop passes a doorbell here (null to take it back). Under `appendfsync
    /// always` a batch that must wait for the sync then rings it, and the loop, once it has handled the
    /// events in hand, calls RoundEnded: one write and one fdatasync for the whole round, and the replies
    /// go out from the loop, as in Redis. Without one, a syncer thread does that work.
    member _.UseRoundBell(ring: Action) : unit = persistence.RoundBell <- ring

    /// The doorbell's handler: the loop has run the commands that had arrived.
    member _.RoundEnded() : unit =
        persistence.Current |> Option.iter (fun l -> l.RoundEnded())

    /// Answers a blocked client that was woken (served or timed out), then runs the commands that came after
    /// its blocking command in the same read.
    member this.Resume(session: Session, output: IBufferWriter<byte>) : Tasks.ValueTask =
        Monitor.Enter gate
        let b = session.Blocked
        session.Blocked <- null

        if isNull b then this.RunLocked(session, null, List<byte[][]>(), output)
        else this.RunLocked(session, b, b.Pending, output)

    /// Runs under the lock (taken by the caller, released here), then waits for durability outside it.
    member private _.RunLocked(session: Session, woken: Blocked, commands: List<byte[][]>, output: IBufferWriter<byte>) : Tasks.ValueTask =
        let mutable upTo = 0L
        let mutable log: AofLog option = None

        try
            commitPoint <- 0L
            ownKeyspace ()
            // One clock reading per batch: the commands of one read arrived together (Redis, too, fixes the
            // time once per command and a pipelined batch runs within microseconds).
            let micros = nowMicros ()

            if not (isNull woken) then RespWriter.write output woken.Reply

            let mutable i = 0

            while i < commands.Count && not session.IsClosing && isNull session.Blocked do
                let reply = dispatch session micros commands[i]

                match parking with
                | ValueSome(struct (cmd, timeout)) ->
                    parking <- ValueNone
                    park session cmd timeout (commands.GetRange(i + 1, commands.Count - i - 1))
                | ValueNone ->
                    match reply with
                    | Reply.Error _ -> stats.ErrorReplies <- stats.ErrorReplies + 1L
                    | _ -> ()

                    RespWriter.write output reply

                if blocked.AnyReady then serveReady micros
                i <- i + 1

            // Everything appended so far, not only this batch's writes: a read must not show another
            // client's write before that write is durable (Redis, too, replies only after the sync).
            log <- persistence.Current
            upTo <- (match log with Some l -> l.Appended | None -> commitPoint)
        finally
            Monitor.Exit gate

        // Outside the lock, so other batches run while this one's bytes reach the disk (group commit).
        match log with
        | Some l when upTo > 0L -> l.WhenDurable upTo
        | _ -> Tasks.ValueTask.CompletedTask

    /// Runs one command for a session and returns its reply once it is as durable as the fsync policy
    /// promises: for embedding the engine and for tests.
    member _.Call(session: Session, args: byte[][]) : Reply =
        let mutable upTo = 0L
        let mutable log: AofLog option = None
        Monitor.Enter gate

        let reply =
            try
                commitPoint <- 0L
                ownKeyspace ()
                let micros = nowMicros ()
                let r = dispatch session micros args
                // Call cannot wait: a blocking command that finds nothing answers as if it timed out.
                parking <- ValueNone
                if blocked.AnyReady then serveReady micros
                log <- persistence.Current
                upTo <- (match log with Some l -> l.Appended | None -> commitPoint)
                r
            finally
                Monitor.Exit gate

        match log with
        | Some l when upTo > 0L -> (l.WhenDurable upTo).AsTask().Wait()
        | _ -> ()

        reply

    /// The client broke the protocol: writes `-ERR <message>`, logs it and marks the session closing.
    member _.ProtocolError(session: Session, message: string, output: IBufferWriter<byte>) : unit =
        log.Verbose(sprintf "Protocol error (%s) from client: id=%d addr=%s" message session.Id session.Addr)
        RespWriter.write output (Reply.Error("ERR " + message))
        session.IsClosing <- true

    /// The connection is gone (either side closed it).
    member _.Disconnect(session: Session) : unit =
        if not (isNull session.Blocked) then
            lock gate (fun () ->
                let b = session.Blocked

                if not (isNull b) then
                    blocked.Unregister(session, b)
                    session.Blocked <- null)

        sessions.TryRemove session.Id |> ignore

    /// Cancelled when the server should stop (SHUTDOWN, SIGTERM, Ctrl+C).
    member _.ShutdownRequested = shutdown.Token

    /// Asks for a clean stop, as SIGTERM does.
    member _.RequestShutdown() : unit = requestShutdown "Received SIGTERM scheduling shutdown..."

    /// Flushes what must be flushed, removes the pidfile, logs the goodbye. Idempotent.
    member _.Stop() : unit =
        if Interlocked.Exchange(&stopped, 1) = 0 then
            if not (isNull timer) then timer.Dispose()
            log.Warning "User requested shutdown..."

            for s in sessions.Values do
                s.Kill()

            Monitor.Enter gate

            try
                if persistence.Enabled then
                    log.Notice "Calling fsync() on the AOF file."

                persistence.Close()
            finally
                Monitor.Exit gate

            settings.PidFile
            |> Option.iter (fun p ->
                log.Notice "Removing the pid file."

                try
                    File.Delete p
                with _ ->
                    ())

            log.Warning "Aof is now ready to exit, bye bye..."

    interface IDisposable with
        member this.Dispose() = this.Stop()
