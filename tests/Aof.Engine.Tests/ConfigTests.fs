module Aof.Engine.Tests.ConfigTests

open System
open System.IO
open System.Text.RegularExpressions
open Xunit
open Xunit.Abstractions
open Aof.Engine

// Expected texts below were taken from redis-server 7.0.15's own output for the same input.

let private words line =
    match Config.splitArgs line with
    | Some ws -> ws
    | None -> failwithf "unbalanced: %s" line

let private parse text =
    match Config.parseText "test.conf" text with
    | Ok ds -> ds
    | Error e -> failwith (ConfigError.format e)

let private buildText text =
    Config.parseText "test.conf" text
    |> Result.bind Config.build

let private settingsOf text =
    match buildText text with
    | Ok(s, _) -> s
    | Error e -> failwith (ConfigError.format e)

let private errorOf text =
    match buildText text with
    | Ok _ -> failwithf "expected an error for %A" text
    | Error e -> e

let private noFiles (path: string) : Result<string, string> =
    ignore path
    Error "No such file or directory"

let private files (table: (string * string) list) (path: string) =
    match List.tryFind (fun (p, _) -> p = path) table with
    | Some(_, text) -> Ok text
    | None -> Error "No such file or directory"

let private loadOk args readFile =
    match Config.load args readFile with
    | Ok(s, ignored) -> s, ignored
    | Error message -> failwith message

let private loadError args readFile =
    match Config.load args readFile with
    | Ok _ -> failwithf "expected an error for %A" args
    | Error message -> message

[<Fact>]
let ``the embedded default serves on 127.0.0.1:6379`` () =
    Assert.Equal(6379, Config.defaults.Port)
    Assert.Equal<string[]>([| "127.0.0.1" |], Config.defaults.Bind)

[<Fact>]
let ``defaults are the product's: AOF on, everysec, ./data`` () =
    let d = Config.defaults
    Assert.Equal("./data", d.Dir)
    Assert.Equal(16, d.Databases)
    Assert.True d.AppendOnly
    Assert.Equal(AppendFsync.EverySec, d.AppendFsync)
    Assert.Equal("appendonly.aof", d.AppendFilename)
    Assert.Equal("appendonlydir", d.AppendDirname)
    Assert.Equal(64L * 1024L * 1024L, d.AutoAofRewriteMinSize)
    Assert.Equal(DebugCommandPolicy.No, d.EnableDebugCommand)
    Assert.Equal(None, d.RequirePass)

// ---- splitting words ------------------------------------------------------------------------------

[<Fact>]
let ``words are separated by any run of spaces and tabs`` () =
    Assert.Equal<string list>([ "save"; "3600"; "1" ], words "  save \t 3600   1 ")

[<Fact>]
let ``empty quotes are empty arguments`` () =
    Assert.Equal<string list>([ "save"; "" ], words "save \"\"")
    Assert.Equal<string list>([ "requirepass"; "" ], words "requirepass ''")
    Assert.Equal<string list>([ "a"; ""; ""; "b" ], words "a '' \"\" b")

[<Fact>]
let ``double quotes keep spaces and understand C escapes`` () =
    Assert.Equal<string list>([ "x"; "a b" ], words "x \"a b\"")
    Assert.Equal<string list>([ "\n\r\t\b\a\\\"" ], words "\"\\n\\r\\t\\b\\a\\\\\\\"\"")
    // An unknown escape is the character itself.
    Assert.Equal<string list>([ "q" ], words "\"\\q\"")

[<Fact>]
let ``\xHH in double quotes is one character; without two hex digits it is a plain x`` () =
    Assert.Equal<string list>([ "A\000\255" ], words "\"\\x41\\x00\\xff\"")
    Assert.Equal<string list>([ "xz1" ], words "\"\\xz1\"")

[<Fact>]
let ``single quotes are literal except for an escaped single quote`` () =
    Assert.Equal<string list>([ "a\\nb"; "it's" ], words "'a\\nb' 'it\\'s'")

[<Fact>]
let ``a quote may open in the middle of a word`` () =
    Assert.Equal<string list>([ "ab c" ], words "a\"b c\"")

[<Fact>]
let ``unbalanced quotes and text glued after a closing quote are refused`` () =
    Assert.Equal(None, Config.splitArgs "\"open")
    Assert.Equal(None, Config.splitArgs "'open")
    Assert.Equal(None, Config.splitArgs "\"a\"b")

[<Fact>]
let ``quote is undone by splitArgs`` () =
    for s in [ ""; "plain"; "a b"; "q\"uote"; "back\\slash"; "\n\r\t\a\b"; "\001\127"; "ünï" ] do
        Assert.Equal<string list>([ s ], words (Config.quote s))

// ---- parsing files ----------------------------------------------------------------------------------

[<Fact>]
let ``comments and blank lines are skipped and names are lower-cased`` () =
    let ds = parse "# a comment\n\n   # indented comment\r\n  PORT  6380  \r\nDir ./x\n"
    Assert.Equal<string list>([ "port"; "dir" ], ds |> List.map _.Name)
    Assert.Equal<int list>([ 4; 5 ], ds |> List.map _.Line)
    Assert.Equal("PORT  6380", ds[0].LineText)

[<Fact>]
let ``an unbalanced quote is reported at its line`` () =
    match Config.parseText "test.conf" "port 0\nport \"a\"b\n" with
    | Ok _ -> failwith "expected an error"
    | Error e ->
        Assert.Equal(2, e.Line)
        Assert.Equal("port \"a\"b", e.LineText)
        Assert.Equal("Unbalanced quotes in configuration line", e.Reason)

[<Fact>]
let ``a bare save and save "" both mean no snapshots and are accepted`` () =
    Assert.Equal(Config.defaults, settingsOf "save\n")
    Assert.Equal(Config.defaults, settingsOf "save \"\"\n")
    Assert.Equal(Config.defaults, settingsOf "save 3600 1 300 100\n")

[<Fact>]
let ``save must be pairs of seconds and changes`` () =
    for text in [ "save 3600"; "save a b"; "save 0 1"; "save \"\" 5" ] do
        Assert.Equal("Invalid save parameters", (errorOf text).Reason)

[<Fact>]
let ``later directives override earlier ones`` () =
    let s = settingsOf "port 7000\nport 7001\nbind 10.0.0.1\nbind 127.0.0.1 -::1\n"
    Assert.Equal(7001, s.Port)
    Assert.Equal<string[]>([| "127.0.0.1"; "-::1" |], s.Bind)

[<Fact>]
let ``every supported directive reaches its setting`` () =
    let s =
        settingsOf (
            String.concat
                "\n"
                [ "port 7777"
                  "bind 0.0.0.0 ::"
                  "dir /var/lib/aof"
                  "databases 4"
                  "logfile /tmp/aof.log"
                  "loglevel warning"
                  "timeout 30"
                  "maxclients 50"
                  "proto-max-bulk-len 2mb"
                  "client-query-buffer-limit 2gb"
                  "hz 100"
                  "requirepass \"s3cret pass\""
                  "pidfile /run/aof.pid"
                  "daemonize no"
                  "enable-debug-command local"
                  "appendonly no"
                  "appendfilename my.aof"
                  "appenddirname mydir"
                  "appendfsync always"
                  "aof-load-truncated no"
                  "aof-timestamp-enabled yes"
                  "aof-use-rdb-preamble no"
                  "auto-aof-rewrite-percentage 50"
                  "auto-aof-rewrite-min-size 1gb"
                  "no-appendfsync-on-rewrite yes"
                  "aof-rewrite-incremental-fsync no" ]
        )

    Assert.Equal(
        { Port = 7777
          Bind = [| "0.0.0.0"; "::" |]
          Dir = "/var/lib/aof"
          Databases = 4
          LogFile = "/tmp/aof.log"
          LogLevel = LogLevel.Warning
          Timeout = 30
          MaxClients = 50
          ProtoMaxBulkLen = 2L * 1024L * 1024L
          ClientQueryBufferLimit = 2L * 1024L * 1024L * 1024L
          Hz = 100
          RequirePass = Some "s3cret pass"
          PidFile = Some "/run/aof.pid"
          EnableDebugCommand = DebugCommandPolicy.Local
          AppendOnly = false
          AppendFilename = "my.aof"
          AppendDirname = "mydir"
          AppendFsync = AppendFsync.Always
          AofLoadTruncated = false
          AofTimestampEnabled = true
          AofUseRdbPreamble = false
          AutoAofRewritePercentage = 50
          AutoAofRewriteMinSize = 1024L * 1024L * 1024L
          NoAppendfsyncOnRewrite = true
          AofRewriteIncrementalFsync = false },
        s
    )

[<Fact>]
let ``yes, no and enum values are case-insensitive`` () =
    let s = settingsOf "appendonly NO\nappendfsync ALWAYS\nloglevel Debug\nenable-debug-command YES"
    Assert.False s.AppendOnly
    Assert.Equal(AppendFsync.Always, s.AppendFsync)
    Assert.Equal(LogLevel.Debug, s.LogLevel)
    Assert.Equal(DebugCommandPolicy.Yes, s.EnableDebugCommand)

[<Fact>]
let ``empty requirepass and pidfile mean none`` () =
    let s = settingsOf "requirepass foo\nrequirepass \"\"\npidfile ''"
    Assert.Equal(None, s.RequirePass)
    Assert.Equal(None, s.PidFile)

[<Fact>]
let ``a bare bind means every interface, as in Redis`` () =
    Assert.Empty((settingsOf "bind").Bind)

[<Fact>]
let ``hz is clamped to 1..500 as Redis does`` () =
    Assert.Equal(1, (settingsOf "hz 0").Hz)
    Assert.Equal(500, (settingsOf "hz 1000").Hz)

[<Fact>]
let ``maxclients above Int32 is held as Int32.MaxValue`` () =
    Assert.Equal(Int32.MaxValue, (settingsOf "maxclients 4294967295").MaxClients)

// ---- errors, with Redis's wording ---------------------------------------------------------------------

[<Fact>]
let ``an unknown directive stops the start with file, line and reason in Redis's shape`` () =
    let e = errorOf "# comment\nbad-directive\n"
    Assert.Equal("test.conf", e.File)
    Assert.Equal(2, e.Line)
    Assert.Equal("bad-directive", e.LineText)
    Assert.Equal("Bad directive or wrong number of arguments", e.Reason)

    Assert.Equal(
        "*** FATAL CONFIG FILE ERROR (Aof 0.1.0) ***\n"
        + "Reading the configuration file, at line 2\n"
        + ">>> 'bad-directive'\n"
        + "Bad directive or wrong number of arguments",
        ConfigError.format e
    )

[<Theory>]
[<InlineData("port abc", "argument couldn't be parsed into an integer")>]
[<InlineData("port 70000", "argument must be between 0 and 65535 inclusive")>]
[<InlineData("port -1", "argument must be between 0 and 65535 inclusive")>]
[<InlineData("port 007", "argument couldn't be parsed into an integer")>]
[<InlineData("port +5", "argument couldn't be parsed into an integer")>]
[<InlineData("port", "wrong number of arguments")>]
[<InlineData("port 1 2", "wrong number of arguments")>]
[<InlineData("requirepass", "wrong number of arguments")>]
[<InlineData("databases 0", "argument must be between 1 and 2147483647 inclusive")>]
[<InlineData("databases 99999999999", "argument must be between 1 and 2147483647 inclusive")>]
[<InlineData("timeout -1", "argument must be between 0 and 2147483647 inclusive")>]
[<InlineData("timeout 99999999999999999999", "argument couldn't be parsed into an integer")>]
[<InlineData("maxclients 0", "argument must be between 1 and 4294967295 inclusive")>]
[<InlineData("hz -1", "argument must be between 0 and 2147483647 inclusive")>]
[<InlineData("loglevel foo", "argument(s) must be one of the following: debug, verbose, notice, warning")>]
[<InlineData("appendfsync sometimes", "argument(s) must be one of the following: everysec, always, no")>]
[<InlineData("enable-debug-command maybe", "argument(s) must be one of the following: no, yes, local")>]
[<InlineData("appendonly maybe", "argument must be 'yes' or 'no'")>]
[<InlineData("daemonize maybe", "argument must be 'yes' or 'no'")>]
[<InlineData("proto-max-bulk-len 100", "argument must be between 1048576 and 9223372036854775807 inclusive")>]
[<InlineData("proto-max-bulk-len abc", "argument must be a memory value")>]
[<InlineData("proto-max-bulk-len 1.5mb", "argument must be a memory value")>]
[<InlineData("client-query-buffer-limit 1k", "argument must be between 1048576 and 9223372036854775807 inclusive")>]
[<InlineData("auto-aof-rewrite-min-size -1", "argument must be a memory value")>]
[<InlineData("auto-aof-rewrite-min-size 99999999999999999999",
             "argument must be between 0 and 9223372036854775807 inclusive")>]
[<InlineData("appendfilename a/b", "appendfilename can't be a path, just a filename")>]
[<InlineData("appendfilename \"\"", "appendfilename can't be empty")>]
[<InlineData("appenddirname a/b", "appenddirname can't be a path, just a dirname")>]
[<InlineData("appenddirname \"\"", "appenddirname can't be empty")>]
[<InlineData("dir \"\"", "No such file or directory")>]
[<InlineData("bind 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17", "Too many bind addresses specified.")>]
[<InlineData("maxmemory", "wrong number of arguments")>]
[<InlineData("include", "Bad directive or wrong number of arguments")>]
[<InlineData("rename-command CONFIG", "Bad directive or wrong number of arguments")>]
[<InlineData("sentinel monitor x", "sentinel directive while not in sentinel mode")>]
[<InlineData("client-output-buffer-limit normal 0 0", "Wrong number of arguments in buffer limit configuration.")>]
let ``each invalid value is refused with Redis's reason`` (line: string, reason: string) =
    let e = errorOf ("# first\n" + line + "\n")
    Assert.Equal(reason, e.Reason)
    Assert.Equal(2, e.Line)
    Assert.Equal(line, e.LineText)

[<Fact>]
let ``daemonize yes is refused with a clear message`` () =
    let e = errorOf "daemonize yes"
    Assert.Contains("daemonize yes is not supported", e.Reason)
    Assert.Contains("supervisor", e.Reason)

// ---- memory units ---------------------------------------------------------------------------------------

[<Theory>]
[<InlineData("0", 0L)>]
[<InlineData("5b", 5L)>]
[<InlineData("100k", 100000L)>]
[<InlineData("100K", 100000L)>]
[<InlineData("100kb", 102400L)>]
[<InlineData("100KB", 102400L)>]
[<InlineData("1m", 1000000L)>]
[<InlineData("1mb", 1048576L)>]
[<InlineData("1g", 1000000000L)>]
[<InlineData("1gb", 1073741824L)>]
[<InlineData("10gb", 10737418240L)>]
[<InlineData("007", 7L)>]
[<InlineData("mb", 0L)>]
[<InlineData("9223372036854775807", 9223372036854775807L)>]
let ``memory values follow Redis's units`` (text: string, bytes: int64) =
    Assert.Equal(Some bytes, Config.parseMemory text)
    Assert.Equal(bytes, (settingsOf ("auto-aof-rewrite-min-size " + text)).AutoAofRewriteMinSize)

[<Theory>]
[<InlineData("-1")>]
[<InlineData("1.5mb")>]
[<InlineData("1tb")>]
[<InlineData("+5")>]
[<InlineData(" 5")>]
[<InlineData("0x10")>]
let ``malformed memory values are not memory values`` (text: string) =
    Assert.Equal(None, Config.parseMemory text)

// ---- ignored directives ---------------------------------------------------------------------------------

[<Fact>]
let ``Redis directives without effect here are accepted and reported once each`` () =
    match
        buildText
            "maxmemory 100mb\nmaxmemory-policy allkeys-lru\ntcp-keepalive 300\nmaxmemory 1gb\n\
             client-output-buffer-limit normal 0 0 0\nrename-command CONFIG \"\"\nloadmodule /x.so\n\
             user default on nopass ~* +@all\ninclude-not\n"
    with
    | Ok _ -> failwith "include-not is no directive"
    | Error e -> Assert.Equal(9, e.Line)

    match
        buildText
            "maxmemory 100mb\nmaxmemory-policy allkeys-lru\ntcp-keepalive 300\nmaxmemory 1gb\n\
             client-output-buffer-limit normal 0 0 0\nrename-command CONFIG \"\"\nloadmodule /x.so\n\
             user default on nopass ~* +@all\nsentinel\nlua-replicate-commands yes\nport 6390\n"
    with
    | Error e -> failwith (ConfigError.format e)
    | Ok(s, ignored) ->
        Assert.Equal(6390, s.Port)

        Assert.Equal<string list>(
            [ "maxmemory"
              "maxmemory-policy"
              "tcp-keepalive"
              "client-output-buffer-limit"
              "rename-command"
              "loadmodule"
              "user"
              "sentinel"
              "lua-replicate-commands" ],
            ignored
        )

[<Fact>]
let ``supported and ignored names do not overlap and common ones are classified`` () =
    Assert.Empty(Set.intersect (set Config.supportedNames) (set Config.ignoredNames))

    for n in [ "save"; "port"; "bind"; "appendonly"; "daemonize" ] do
        Assert.True(Config.isSupported n, n)

    for n in
        [ "maxmemory"; "tcp-backlog"; "protected-mode"; "supervised"; "always-show-logo"; "set-proc-title"
          "rdbcompression"; "dbfilename"; "replicaof"; "slaveof"; "replica-read-only"; "lua-time-limit"
          "slowlog-max-len"; "latency-monitor-threshold"; "notify-keyspace-events"; "hash-max-listpack-entries"
          "list-max-listpack-size"; "set-max-intset-entries"; "zset-max-listpack-value"; "activerehashing"
          "client-output-buffer-limit"; "dynamic-hz"; "io-threads"; "lazyfree-lazy-eviction"; "oom-score-adj"
          "jemalloc-bg-thread"; "tls-port"; "aclfile"; "acllog-max-len"; "user"; "rename-command"; "unixsocket"
          "unixsocketperm"; "include"; "loadmodule"; "TCP-KEEPALIVE" ] do
        Assert.True(Config.isIgnored n, n)

    Assert.False(Config.isKnown "bad-directive")
    Assert.False(Config.isKnown "vm-enabled")

/// Every directive example in the real redis.conf, commented out or not, must be accepted.
type RedisConfTests(output: ITestOutputHelper) =
    let path = "/etc/redis/redis.conf"

    // Commented lines that look like `# word ...` but are prose or value lists, not directives.
    static let prose =
        Regex(@"^# ?[a-z][a-z0-9_-]* +(->|-(\s|$))|^# (units|use|no|yes|local|normal|replica|pubsub) ", RegexOptions.Compiled)

    static let directiveLine = Regex(@"^(# ?)?([a-z][a-z0-9_-]*)(\s|$)", RegexOptions.Compiled)

    let available () =
        if File.Exists path then
            true
        elif Environment.GetEnvironmentVariable "CI" = "true" then
            Assert.Fail(path + " is missing; CI must have redis-server's default config installed")
            false
        else
            output.WriteLine(path + " is missing: skipped (install redis-server to run this check)")
            false

    /// A commented example is a `# name ...` line that starts a paragraph or follows another example:
    /// prose continues a sentence from the line above.
    let candidates (lines: string[]) =
        let mutable previousWasDirective = false

        [ for i in 0 .. lines.Length - 1 do
              let line = lines[i]
              let m = directiveLine.Match line
              let previous = if i = 0 then "" else lines[i - 1].Trim()
              let commented = line.StartsWith '#'

              let isExample =
                  m.Success
                  && not (prose.IsMatch line)
                  && (not commented || previous = "#" || previous = "" || previousWasDirective)

              previousWasDirective <- isExample

              if isExample then
                  yield i + 1, m.Groups[2].Value, line ]

    [<Fact>]
    member _.``every directive named in redis.conf is known``() =
        if available () then
            let found = candidates (File.ReadAllLines path)
            Assert.True(List.length found > 150, sprintf "only %d directive lines found" (List.length found))

            let unknown = found |> List.filter (fun (_, name, _) -> not (Config.isKnown name))

            for (n, _, line) in unknown do
                output.WriteLine(sprintf "line %d: %s" n line)

            Assert.Empty unknown

    [<Fact>]
    member _.``redis.conf's active lines build, apart from daemonize yes``() =
        if available () then
            let text =
                File.ReadAllLines path
                |> Array.map (fun l -> if l.StartsWith "daemonize " then "" else l)
                |> String.concat "\n"

            match Config.parseText path text |> Result.bind Config.build with
            | Error e -> Assert.Fail(ConfigError.format e)
            | Ok(s, ignored) ->
                Assert.Equal(6379, s.Port)
                Assert.Equal<string[]>([| "127.0.0.1"; "-::1" |], s.Bind)
                Assert.Contains("tcp-backlog", ignored)

// ---- the command line ---------------------------------------------------------------------------------

[<Fact>]
let ``--port 6380 --dir ./d are directives`` () =
    match Config.parseCommandLine [| "--port"; "6380"; "--dir"; "./d" |] with
    | Error e -> failwith e
    | Ok cl ->
        Assert.Equal(None, cl.ConfigFile)
        Assert.False cl.Stdin
        Assert.Equal<(string * string list) list>([ "port", [ "6380" ]; "dir", [ "./d" ] ], cl.Directives)

    let s, _ = loadOk [| "--port"; "6380"; "--dir"; "./d" |] noFiles
    Assert.Equal(6380, s.Port)
    Assert.Equal("./d", s.Dir)

[<Fact>]
let ``a first argument without a dash is the config file`` () =
    match Config.parseCommandLine [| "my.conf"; "--loglevel"; "verbose"; "-" |] with
    | Error e -> failwith e
    | Ok cl ->
        Assert.Equal(Some "my.conf", cl.ConfigFile)
        Assert.True cl.Stdin
        Assert.Equal<(string * string list) list>([ "loglevel", [ "verbose" ] ], cl.Directives)

[<Fact>]
let ``a directive takes every following word; a name and value in one word also work`` () =
    match Config.parseCommandLine [| "--bind"; "127.0.0.1"; "::1"; "--port 6390" |] with
    | Error e -> failwith e
    | Ok cl -> Assert.Equal<(string * string list) list>([ "bind", [ "127.0.0.1"; "::1" ]; "port", [ "6390" ] ], cl.Directives)

[<Fact>]
let ``like redis-server, a --name still without a value takes the next word even if it starts with --`` () =
    match Config.parseCommandLine [| "--requirepass"; "--secret"; "--port"; "1" |] with
    | Error e -> failwith e
    | Ok cl -> Assert.Equal<(string * string list) list>([ "requirepass", [ "--secret" ]; "port", [ "1" ] ], cl.Directives)

[<Fact>]
let ``a bare --save before another option or at the end means save ""`` () =
    match Config.parseCommandLine [| "--save"; "--port"; "1"; "--save" |] with
    | Error e -> failwith e
    | Ok cl -> Assert.Equal<(string * string list) list>([ "save", [ "" ]; "port", [ "1" ]; "save", [ "" ] ], cl.Directives)

[<Fact>]
let ``--version and -v, --help and -h are flags`` () =
    for a in [ "--version"; "-v" ] do
        match Config.parseCommandLine [| a |] with
        | Ok cl -> Assert.True(cl.Version, a)
        | Error e -> failwith e

    for a in [ "--help"; "-h" ] do
        match Config.parseCommandLine [| a |] with
        | Ok cl -> Assert.True(cl.Help, a)
        | Error e -> failwith e

    // Only those exact spellings, and only first, as in redis-server.
    for args in [ [| "--port"; "--version" |]; [| "-V" |]; [| "--helpme" |] ] do
        match Config.parseCommandLine args with
        | Ok cl -> Assert.False(cl.Help || cl.Version, String.concat " " args)
        | Error _ -> ()

    Assert.Equal("Aof server v=0.1.0", Config.versionText)

[<Fact>]
let ``command-line directives come after the file's`` () =
    let read = files [ "aof.conf", "port 7000\ndir /from/file\nloglevel warning\n" ]
    let s, _ = loadOk [| "aof.conf"; "--port"; "7001" |] read
    Assert.Equal(7001, s.Port)
    Assert.Equal("/from/file", s.Dir)
    Assert.Equal(LogLevel.Warning, s.LogLevel)

[<Fact>]
let ``standard input follows the file and precedes the options`` () =
    let read = files [ "aof.conf", "port 7000\ntimeout 5\n"; "-", "port 7001\nhz 20\n" ]
    let s, _ = loadOk [| "aof.conf"; "--hz"; "30"; "-" |] read
    Assert.Equal(7001, s.Port)
    Assert.Equal(5, s.Timeout)
    Assert.Equal(30, s.Hz)

[<Fact>]
let ``a bad option is reported like a config line numbered after the file`` () =
    // redis-server: the options are appended after the file text and one newline.
    let read = files [ "aof.conf", "port 1\n" ]

    Assert.Equal(
        "*** FATAL CONFIG FILE ERROR (Aof 0.1.0) ***\n"
        + "Reading the configuration file, at line 3\n"
        + ">>> 'port \"abc\"'\n"
        + "argument couldn't be parsed into an integer",
        loadError [| "aof.conf"; "--port"; "abc" |] read
    )

    let noFile = loadError [| "--bad"; "x" |] noFiles
    Assert.Contains("at line 2\n>>> 'bad \"x\"'\nBad directive or wrong number of arguments", noFile)

[<Fact>]
let ``a missing config file is fatal with the path and reason`` () =
    let message = loadError [| "nofile.conf" |] noFiles
    Assert.StartsWith("Fatal error, can't open config file '", message)
    Assert.EndsWith("nofile.conf': No such file or directory", message)

[<Fact>]
let ``include reads another file in place`` () =
    let read =
        files
            [ "main.conf", "port 1\ninclude extra.conf\ntimeout 9\n"
              "extra.conf", "port 2\ntimeout 3\nhz 42\n" ]

    let s, _ = loadOk [| "main.conf" |] read
    Assert.Equal(2, s.Port)
    Assert.Equal(9, s.Timeout)
    Assert.Equal(42, s.Hz)

    let bad = files [ "main.conf", "include extra.conf\n"; "extra.conf", "loglevel foo\n" ]
    Assert.Contains("at line 1\n>>> 'loglevel foo'", loadError [| "main.conf" |] bad)
    let loop = files [ "main.conf", "include main.conf\n" ]
    Assert.Contains("include nesting", loadError [| "main.conf" |] loop)

// ---- CONFIG GET / CONFIG SET --------------------------------------------------------------------------

[<Fact>]
let ``CONFIG GET shows values as Redis formats them`` () =
    let s = settingsOf "bind 127.0.0.1 ::1\nproto-max-bulk-len 2mb\nappendonly no\nrequirepass pw"
    let one name = Config.get name s

    Assert.Equal<(string * string) list>([ "bind", "127.0.0.1 ::1" ], one "bind")
    Assert.Equal<(string * string) list>([ "proto-max-bulk-len", "2097152" ], one "proto-max-bulk-len")
    Assert.Equal<(string * string) list>([ "appendonly", "no" ], one "appendonly")
    Assert.Equal<(string * string) list>([ "appendfsync", "everysec" ], one "appendfsync")
    Assert.Equal<(string * string) list>([ "auto-aof-rewrite-min-size", "67108864" ], one "auto-aof-rewrite-min-size")
    Assert.Equal<(string * string) list>([ "requirepass", "pw" ], one "requirepass")
    Assert.Equal<(string * string) list>([ "pidfile", "" ], one "pidfile")
    Assert.Equal<(string * string) list>([ "save", "" ], one "save")
    Assert.Equal<(string * string) list>([ "daemonize", "no" ], one "daemonize")
    Assert.Equal<(string * string) list>([ "loglevel", "notice" ], one "loglevel")
    Assert.Empty(one "maxmemory")
    Assert.Empty(one "nope")

[<Fact>]
let ``CONFIG GET of a plain name ignores case and echoes the name as asked`` () =
    Assert.Equal<(string * string) list>([ "POrt", "6379" ], Config.get "POrt" Config.defaults)

[<Fact>]
let ``CONFIG GET * lists every supported directive once`` () =
    let all = Config.get "*" Config.defaults
    Assert.Equal<string list>(Config.supportedNames, all |> List.map fst)
    Assert.Equal(List.length all, all |> List.map fst |> List.distinct |> List.length)

[<Fact>]
let ``CONFIG SET changes mutable settings`` () =
    let ok name value s =
        match Config.set name value s with
        | Ok s -> s
        | Error e -> failwith e

    let s =
        Config.defaults
        |> ok "loglevel" "WARNING"
        |> ok "hz" "1000"
        |> ok "appendfsync" "always"
        |> ok "requirepass" "a b"
        |> ok "bind" "127.0.0.1 ::1"
        |> ok "proto-max-bulk-len" "2gb"
        |> ok "save" "3600 1 300 100"
        |> ok "maxmemory-policy" "allkeys-lru"

    Assert.Equal(LogLevel.Warning, s.LogLevel)
    Assert.Equal(500, s.Hz)
    Assert.Equal(AppendFsync.Always, s.AppendFsync)
    Assert.Equal(Some "a b", s.RequirePass)
    Assert.Equal<string[]>([| "127.0.0.1"; "::1" |], s.Bind)
    Assert.Equal(2L * 1024L * 1024L * 1024L, s.ProtoMaxBulkLen)
    Assert.Equal(None, (ok "requirepass" "" s).RequirePass)

[<Theory>]
[<InlineData("foo", "1", "ERR Unknown option or number of arguments for CONFIG SET - 'foo'")>]
[<InlineData("FOO", "1", "ERR Unknown option or number of arguments for CONFIG SET - 'FOO'")>]
[<InlineData("include", "x", "ERR Unknown option or number of arguments for CONFIG SET - 'include'")>]
[<InlineData("Port",
             "abc",
             "ERR CONFIG SET failed (possibly related to argument 'port') - argument couldn't be parsed into an integer")>]
[<InlineData("port",
             "70000",
             "ERR CONFIG SET failed (possibly related to argument 'port') - argument must be between 0 and 65535 inclusive")>]
[<InlineData("databases", "5", "ERR CONFIG SET failed (possibly related to argument 'databases') - can't set immutable config")>]
[<InlineData("databases",
             "abc",
             "ERR CONFIG SET failed (possibly related to argument 'databases') - can't set immutable config")>]
[<InlineData("daemonize", "yes", "ERR CONFIG SET failed (possibly related to argument 'daemonize') - can't set immutable config")>]
[<InlineData("dir", "/tmp", "ERR CONFIG SET failed (possibly related to argument 'dir') - can't set protected config")>]
[<InlineData("logfile", "x", "ERR CONFIG SET failed (possibly related to argument 'logfile') - can't set immutable config")>]
[<InlineData("appendfilename",
             "x",
             "ERR CONFIG SET failed (possibly related to argument 'appendfilename') - can't set immutable config")>]
[<InlineData("enable-debug-command",
             "yes",
             "ERR CONFIG SET failed (possibly related to argument 'enable-debug-command') - can't set immutable config")>]
[<InlineData("loglevel",
             "foo",
             "ERR CONFIG SET failed (possibly related to argument 'loglevel') - argument(s) must be one of the following: debug, verbose, notice, warning")>]
[<InlineData("appendonly",
             "maybe",
             "ERR CONFIG SET failed (possibly related to argument 'appendonly') - argument must be 'yes' or 'no'")>]
[<InlineData("proto-max-bulk-len",
             "abc",
             "ERR CONFIG SET failed (possibly related to argument 'proto-max-bulk-len') - argument must be a memory value")>]
[<InlineData("timeout",
             "",
             "ERR CONFIG SET failed (possibly related to argument 'timeout') - argument couldn't be parsed into an integer")>]
[<InlineData("save", "3600", "ERR CONFIG SET failed (possibly related to argument 'save') - Invalid save parameters")>]
[<InlineData("unixsocket", "x", "ERR CONFIG SET failed (possibly related to argument 'unixsocket') - can't set immutable config")>]
[<InlineData("dbfilename", "x", "ERR CONFIG SET failed (possibly related to argument 'dbfilename') - can't set protected config")>]
let ``CONFIG SET errors read as Redis 7.0's`` (name: string, value: string, expected: string) =
    Assert.Equal(Error expected, Config.set name value Config.defaults)

[<Fact>]
let ``a lone - first means standard input and no config file`` () =
    match Config.parseCommandLine [| "-"; "--port"; "1" |] with
    | Error e -> failwith e
    | Ok cl ->
        Assert.Equal(None, cl.ConfigFile)
        Assert.True cl.Stdin

    let s, _ = loadOk [| "-"; "--timeout"; "7" |] (files [ "-", "port 6400\n" ])
    Assert.Equal(6400, s.Port)
    Assert.Equal(7, s.Timeout)

[<Fact>]
let ``option values with spaces, quotes and backslashes arrive unchanged`` () =
    let secret = "a b\"c'd\\e\tf"
    let s, _ = loadOk [| "--requirepass"; secret; "--logfile"; "" |] noFiles
    Assert.Equal(Some secret, s.RequirePass)
    Assert.Equal("", s.LogFile)
