namespace Aof.Core

/// How SET and friends say when a key should expire: relative forms are turned into absolute Unix
/// milliseconds by `decide`, which holds the clock.
[<RequireQualifiedAccess>]
type ExpireSpec =
    | NoChange
    | Persist
    | KeepTtl
    | Seconds of int64
    | Millis of int64
    | AtSeconds of int64
    | AtMillis of int64

[<RequireQualifiedAccess>]
type Condition =
    | Always
    | IfAbsent
    | IfPresent

/// EXPIRE's NX/XX/GT/LT.
[<RequireQualifiedAccess>]
type ExpireCondition =
    | Always
    | NoTtl
    | HasTtl
    | Greater
    | Less

[<RequireQualifiedAccess>]
type TimeUnit =
    | Seconds
    | Millis

/// A command on the dataset: decided purely from the keyspace, the clock and a random number.
[<RequireQualifiedAccess>]
type Command =
    | Ping of message: byte[] voption
    | Echo of message: byte[]
    | Time
    | DbSize
    | FlushDb
    | FlushAll
    | SwapDb of a: int * b: int
    | Get of key: byte[]
    | Set of key: byte[] * value: byte[] * condition: Condition * expire: ExpireSpec * get: bool
    | SetNx of key: byte[] * value: byte[]
    /// SETEX and PSETEX; `name` is for the error text.
    | SetEx of name: string * key: byte[] * ttl: int64 * unit: TimeUnit * value: byte[]
    | MGet of keys: byte[][]
    | MSet of pairs: (byte[] * byte[])[]
    | MSetNx of pairs: (byte[] * byte[])[]
    | GetSet of key: byte[] * value: byte[]
    | GetDel of key: byte[]
    /// The expiry's number is read after the key is found, as Redis reads it: a missing key answers nil and
    /// one of another type WRONGTYPE before a bad number is noticed, hence the Result.
    | GetEx of key: byte[] * expire: Result<ExpireSpec, Reply>
    | Append of key: byte[] * value: byte[]
    | StrLen of key: byte[]
    | IncrBy of key: byte[] * by: int64
    | IncrByFloat of key: byte[] * by: byte[]
    | GetRange of key: byte[] * start: int64 * stop: int64
    | SetRange of key: byte[] * offset: int64 * value: byte[]
    | Del of keys: byte[][]
    | Exists of keys: byte[][]
    | Type of key: byte[]
    | Keys of pattern: byte[]
    | Scan of cursor: uint64 * pattern: byte[] voption * count: int * typeName: string voption
    | RandomKey
    | Rename of source: byte[] * destination: byte[] * onlyIfAbsent: bool
    | Move of key: byte[] * db: int
    | Copy of source: byte[] * destination: byte[] * db: int voption * replace: bool
    /// EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT.
    | Expire of name: string * key: byte[] * amount: int64 * unit: TimeUnit * absolute: bool * condition: ExpireCondition
    /// TTL, PTTL, EXPIRETIME, PEXPIRETIME.
    | Ttl of key: byte[] * unit: TimeUnit * absolute: bool
    | Persist of key: byte[]
    /// OBJECT ENCODING / REFCOUNT / IDLETIME / FREQ.
    | Object of subcommand: ObjectSub * key: byte[]
    | Lists of ListCommand
    | Hashes of HashCommand
    | Sets of SetCommand
    | SortedSets of ZSetCommand

and [<RequireQualifiedAccess>] ObjectSub =
    | Encoding
    | RefCount
    | IdleTime
    | Freq

/// Commands about the connection or the server rather than the data: the engine carries them out.
[<RequireQualifiedAccess>]
type Control =
    | Select of db: int
    | Multi
    | Exec
    | Discard
    | Watch of keys: byte[][]
    | Unwatch
    | Info of sections: string list
    | ConfigGet of patterns: string list
    | ConfigSet of pairs: (string * string) list
    | ConfigResetStat
    | ConfigRewrite
    | ClientSetName of name: byte[]
    | ClientGetName
    | ClientId
    | ClientInfo
    | ClientList
    | ClientKill of filters: (string * string) list
    | ClientKillAddr of addr: string
    | ClientNoEvict
    | CommandCount
    | CommandDocs of names: string list
    | CommandInfo of names: string list
    | CommandList
    | Quit
    | Shutdown of save: bool voption
    | Hello of version: int voption * auth: (string * string) voption * name: byte[] voption
    | Auth of user: string voption * password: string
    | Reset
    | Debug of Debug
    | BgRewriteAof

/// DEBUG's subcommands that this server has (with `enable-debug-command`).
and [<RequireQualifiedAccess>] Debug =
    | Digest
    | DigestValue of keys: byte[][]
    | LoadAof
    | Sleep of seconds: float
    | SetActiveExpire of enabled: bool

[<RequireQualifiedAccess>]
type Request =
    | Data of Command
    | Control of Control

module Command =
    open System
    let private ok x : Result<Request, Reply> = Ok(Request.Data x)
    let private ctl x : Result<Request, Reply> = Ok(Request.Control x)
    let private str (b: byte[]) = Bytes.toString b

    /// Redis's reply to a command it does not know: the name and the first arguments, each quoted and
    /// followed by a space, cut at 128 characters.
    let unknownCommand (args: byte[][]) : Reply =
        let cut (s: string) n = if s.Length > n then s.Substring(0, n) else s
        let sb = System.Text.StringBuilder()
        let mutable i = 1

        while i < args.Length && sb.Length < 128 do
            sb.Append('\'').Append(cut (str args[i]) (128 - sb.Length)).Append("' ") |> ignore
            i <- i + 1

        Reply.Error(sprintf "ERR unknown command '%s', with args beginning with: %s" (cut (str args[0]) 128) (sb.ToString()))

    let private unknownSubcommand (sub: byte[]) (cmd: string) =
        Reply.Error(sprintf "ERR unknown subcommand '%s'. Try %s HELP." (str sub) (cmd.ToUpperInvariant()))

    let private int64Arg (b: byte[]) : Result<int64, Reply> =
        match Num.tryParseInt64 b with
        | ValueSome n -> Ok n
        | ValueNone -> Error Reply.notInteger

    let private intArg (b: byte[]) : Result<int, Reply> =
        match Num.tryParseInt64 b with
        | ValueSome n when n >= int64 System.Int32.MinValue && n <= int64 System.Int32.MaxValue -> Ok(int n)
        | _ -> Error Reply.notInteger

    let private pairs (args: byte[][]) =
        Array.init ((args.Length - 1) / 2) (fun i -> args[1 + 2 * i], args[2 + 2 * i])

    let private invalidExpire (name: string) =
        Reply.Error(sprintf "ERR invalid expire time in '%s' command" name)

    /// SET's options: NX XX GET KEEPTTL EX PX EXAT PXAT, each at most once and not in conflict.
    let private parseSet (args: byte[][]) : Result<Request, Reply> =
        if args.Length = 3 then
            // Plain SET, by far the most common: none of the option state below.
            ok (Command.Set(args[1], args[2], Condition.Always, ExpireSpec.NoChange, false))
        else
        let mutable cond = Condition.Always
        let mutable expire = ExpireSpec.NoChange
        let mutable get = false
        let mutable error = ValueNone
        let mutable i = 3

        // Repeating an option is allowed (the last value wins); mixing conflicting ones is not.
        let sameKind (a: ExpireSpec) (b: ExpireSpec) =
            match a, b with
            | ExpireSpec.Seconds _, ExpireSpec.Seconds _
            | ExpireSpec.Millis _, ExpireSpec.Millis _
            | ExpireSpec.AtSeconds _, ExpireSpec.AtSeconds _
            | ExpireSpec.AtMillis _, ExpireSpec.AtMillis _ -> true
            | _ -> false

        let setExpire (mk: int64 -> ExpireSpec) =
            if (expire <> ExpireSpec.NoChange && not (sameKind expire (mk 1L))) || i + 1 >= args.Length then
                error <- ValueSome Reply.syntaxError
            else
                match Num.tryParseInt64 args[i + 1] with
                | ValueNone -> error <- ValueSome Reply.notInteger
                | ValueSome n when n <= 0L -> error <- ValueSome(invalidExpire "set")
                | ValueSome n ->
                    expire <- mk n
                    i <- i + 1

        while error.IsNone && i < args.Length do
            let a = args[i]

            if Bytes.eqLower "nx" a && cond <> Condition.IfPresent then cond <- Condition.IfAbsent
            elif Bytes.eqLower "xx" a && cond <> Condition.IfAbsent then cond <- Condition.IfPresent
            elif Bytes.eqLower "get" a then get <- true
            elif Bytes.eqLower "keepttl" a && (expire = ExpireSpec.NoChange || expire = ExpireSpec.KeepTtl) then expire <- ExpireSpec.KeepTtl
            elif Bytes.eqLower "ex" a then setExpire ExpireSpec.Seconds
            elif Bytes.eqLower "px" a then setExpire ExpireSpec.Millis
            elif Bytes.eqLower "exat" a then setExpire ExpireSpec.AtSeconds
            elif Bytes.eqLower "pxat" a then setExpire ExpireSpec.AtMillis
            else error <- ValueSome Reply.syntaxError

            i <- i + 1

        match error with
        | ValueSome e -> Error e
        | ValueNone -> ok (Command.Set(args[1], args[2], cond, expire, get))

    /// GETEX's options: one of EX PX EXAT PXAT PERSIST. A wrong option is a syntax error at once; a bad
    /// number waits for the key to be found (see Command.GetEx).
    let private parseGetEx (args: byte[][]) : Result<Request, Reply> =
        let timed (mk: int64 -> ExpireSpec) (number: byte[]) : Result<ExpireSpec, Reply> =
            match Num.tryParseInt64 number with
            | ValueNone -> Error Reply.notInteger
            | ValueSome n when n <= 0L -> Error(invalidExpire "getex")
            | ValueSome n -> Ok(mk n)

        let spec: Result<Result<ExpireSpec, Reply>, Reply> =
            match args.Length with
            | 2 -> Ok(Ok ExpireSpec.NoChange)
            | 3 when Bytes.eqLower "persist" args[2] -> Ok(Ok ExpireSpec.Persist)
            | 4 when Bytes.eqLower "ex" args[2] -> Ok(timed ExpireSpec.Seconds args[3])
            | 4 when Bytes.eqLower "px" args[2] -> Ok(timed ExpireSpec.Millis args[3])
            | 4 when Bytes.eqLower "exat" args[2] -> Ok(timed ExpireSpec.AtSeconds args[3])
            | 4 when Bytes.eqLower "pxat" args[2] -> Ok(timed ExpireSpec.AtMillis args[3])
            | _ -> Error Reply.syntaxError

        spec |> Result.map (fun expire -> Request.Data(Command.GetEx(args[1], expire)))

    let private parseExpire (name: string) (unit: TimeUnit) (absolute: bool) (args: byte[][]) =
        let mutable nx, xx, gt, lt = false, false, false, false
        let mutable bad = ValueNone

        for i in 3 .. args.Length - 1 do
            let a = args[i]

            if Bytes.eqLower "nx" a then nx <- true
            elif Bytes.eqLower "xx" a then xx <- true
            elif Bytes.eqLower "gt" a then gt <- true
            elif Bytes.eqLower "lt" a then lt <- true
            elif bad.IsNone then bad <- ValueSome a

        match bad with
        | ValueSome a -> Error(Reply.Error("ERR Unsupported option " + str a))
        | ValueNone when nx && (xx || gt || lt) ->
            Error(Reply.Error "ERR NX and XX, GT or LT options at the same time are not compatible")
        | ValueNone when gt && lt -> Error(Reply.Error "ERR GT and LT options at the same time are not compatible")
        | ValueNone ->
            let cond =
                if nx then ExpireCondition.NoTtl
                elif gt then ExpireCondition.Greater
                elif lt then ExpireCondition.Less
                elif xx then ExpireCondition.HasTtl
                else ExpireCondition.Always

            int64Arg args[2]
            |> Result.map (fun n -> Request.Data(Command.Expire(name, args[1], n, unit, absolute, cond)))

    let private parseScan (args: byte[][]) : Result<Request, Reply> =
        match Scan.parseCursor args[1] with
        | ValueNone -> Error(Reply.Error "ERR invalid cursor")
        | ValueSome cursor ->
            let rec go i pattern count typ =
                if i >= args.Length then
                    ok (Command.Scan(cursor, pattern, count, typ))
                elif i + 1 >= args.Length then
                    Error Reply.syntaxError
                elif Bytes.eqLower "match" args[i] then
                    go (i + 2) (ValueSome args[i + 1]) count typ
                elif Bytes.eqLower "count" args[i] then
                    match Num.tryParseInt64 args[i + 1] with
                    | ValueNone -> Error Reply.notInteger
                    | ValueSome n when n < 1L -> Error Reply.syntaxError
                    | ValueSome n -> go (i + 2) pattern (int (min n 1_000_000L)) typ
                elif Bytes.eqLower "type" args[i] then
                    go (i + 2) pattern count (ValueSome(Bytes.toLower args[i + 1]))
                else
                    Error Reply.syntaxError

            go 2 ValueNone 10 ValueNone

    let private parseCopy (args: byte[][]) : Result<Request, Reply> =
        let rec go i db replace =
            if i >= args.Length then
                ok (Command.Copy(args[1], args[2], db, replace))
            elif Bytes.eqLower "replace" args[i] then
                go (i + 1) db true
            elif Bytes.eqLower "db" args[i] && i + 1 < args.Length then
                match intArg args[i + 1] with
                | Ok n -> go (i + 2) (ValueSome n) replace
                | Error e -> Error e
            else
                Error Reply.syntaxError

        go 3 ValueNone false

    let private parseConfig (args: byte[][]) : Result<Request, Reply> =
        let sub = args[1]

        if Bytes.eqLower "get" sub then
            if args.Length < 3 then Error(Reply.wrongArity "config|get")
            else ctl (Control.ConfigGet [ for a in args[2..] -> str a ])
        elif Bytes.eqLower "set" sub then
            if args.Length < 4 || args.Length % 2 = 1 then Error(Reply.wrongArity "config|set")
            else ctl (Control.ConfigSet [ for i in 2..2 .. args.Length - 1 -> str args[i], str args[i + 1] ])
        elif Bytes.eqLower "resetstat" sub then
            if args.Length <> 2 then Error(Reply.wrongArity "config|resetstat") else ctl Control.ConfigResetStat
        elif Bytes.eqLower "rewrite" sub then
            if args.Length <> 2 then Error(Reply.wrongArity "config|rewrite") else ctl Control.ConfigRewrite
        else
            Error(unknownSubcommand sub "config")

    let private parseClient (args: byte[][]) : Result<Request, Reply> =
        let sub = args[1]
        let exact n name c = if args.Length = n then ctl c else Error(Reply.wrongArity ("client|" + name))

        if Bytes.eqLower "setname" sub then exact 3 "setname" (Control.ClientSetName(if args.Length = 3 then args[2] else [||]))
        elif Bytes.eqLower "getname" sub then exact 2 "getname" Control.ClientGetName
        elif Bytes.eqLower "id" sub then exact 2 "id" Control.ClientId
        elif Bytes.eqLower "info" sub then exact 2 "info" Control.ClientInfo
        elif Bytes.eqLower "list" sub then ctl Control.ClientList
        elif Bytes.eqLower "no-evict" sub then ctl Control.ClientNoEvict
        elif Bytes.eqLower "kill" sub then
            if args.Length = 3 then ctl (Control.ClientKillAddr(str args[2]))
            elif args.Length >= 4 && args.Length % 2 = 0 then
                ctl (Control.ClientKill [ for i in 2..2 .. args.Length - 1 -> Bytes.toLower args[i], str args[i + 1] ])
            elif args.Length < 3 then Error(Reply.wrongArity "client|kill")
            else Error Reply.syntaxError
        else Error(unknownSubcommand sub "client")

    let private parseCommandCmd (args: byte[][]) : Result<Request, Reply> =
        if args.Length = 1 then
            ctl Control.CommandList
        else
            let sub = args[1]
            let names = [ for a in args[2..] -> Bytes.toLower a ]

            if Bytes.eqLower "count" sub then
                if args.Length = 2 then ctl Control.CommandCount else Error(Reply.wrongArity "command|count")
            elif Bytes.eqLower "docs" sub then ctl (Control.CommandDocs names)
            elif Bytes.eqLower "info" sub then ctl (Control.CommandInfo names)
            else Error(unknownSubcommand sub "command")

    let private parseHello (args: byte[][]) : Result<Request, Reply> =
        if args.Length = 1 then
            ctl (Control.Hello(ValueNone, ValueNone, ValueNone))
        else
            match Num.tryParseInt64 args[1] with
            | ValueNone -> Error(Reply.Error "ERR Protocol version is not an integer or out of range")
            | ValueSome v ->
                let rec go i auth name =
                    if i >= args.Length then
                        ctl (Control.Hello(ValueSome(int v), auth, name))
                    elif Bytes.eqLower "auth" args[i] && i + 2 < args.Length then
                        go (i + 3) (ValueSome(str args[i + 1], str args[i + 2])) name
                    elif Bytes.eqLower "setname" args[i] && i + 1 < args.Length then
                        go (i + 2) auth (ValueSome args[i + 1])
                    else
                        Error(Reply.Error(sprintf "ERR Syntax error in HELLO option '%s'" (str args[i])))

                go 2 ValueNone ValueNone

    /// ASCII case-insensitive byte-string equality: command names arrive in any case, and looking them up
    /// must not allocate a lower-cased copy per command.
    [<Sealed>]
    type private NameComparer() =
        interface Collections.Generic.IEqualityComparer<byte[]> with
            member _.Equals(a, b) =
                a.Length = b.Length
                && (let mutable i = 0
                    let mutable same = true

                    while same && i < a.Length do
                        same <- (a[i] ||| 0x20uy) = (b[i] ||| 0x20uy)
                        i <- i + 1

                    same)

            member _.GetHashCode b =
                let mutable h = 17

                for c in b do
                    h <- h * 31 + int (c ||| 0x20uy)

                h

    /// A command's name as Redis reports it in errors, its arity (positive = exactly, negative = at
    /// least) and its parser.
    type Spec =
        { Name: string
          Arity: int
          Parse: byte[][] -> Result<Request, Reply>
          /// May change the dataset: refused with -MISCONF while the AOF cannot be written.
          Write: bool
          /// Allowed while the dataset is loading (others get -LOADING), as Redis flags them.
          WhileLoading: bool }

    let private flush name (a: byte[][]) =
        if a.Length > 2 then Error Reply.syntaxError
        elif a.Length = 2 && not (Bytes.eqLower "async" a[1] || Bytes.eqLower "sync" a[1]) then Error Reply.syntaxError
        else ok (if name = "flushdb" then Command.FlushDb else Command.FlushAll)

    let private setex name (a: byte[][]) =
        match Num.tryParseInt64 a[2] with
        | ValueNone -> Error Reply.notInteger
        | ValueSome n when n <= 0L -> Error(invalidExpire name)
        | ValueSome n -> ok (Command.SetEx(name, a[1], n, (if name = "setex" then TimeUnit.Seconds else TimeUnit.Millis), a[3]))

    let private msets name (a: byte[][]) =
        if a.Length % 2 = 0 then Error(Reply.wrongArity name)
        elif name = "mset" then ok (Command.MSet(pairs a))
        else ok (Command.MSetNx(pairs a))

    let private getrange (a: byte[][]) =
        match int64Arg a[2], int64Arg a[3] with
        | Ok s, Ok e -> ok (Command.GetRange(a[1], s, e))
        | Error e, _
        | _, Error e -> Error e

    let private shutdown (a: byte[][]) =
        let rec go i save =
            if i >= a.Length then ctl (Control.Shutdown save)
            elif Bytes.eqLower "nosave" a[i] then go (i + 1) (ValueSome false)
            elif Bytes.eqLower "save" a[i] then go (i + 1) (ValueSome true)
            elif Bytes.eqLower "now" a[i] || Bytes.eqLower "force" a[i] then go (i + 1) save
            else Error Reply.syntaxError

        go 1 ValueNone

    /// How long the decimal number at the start of `b` is (after blanks, with an optional sign, fraction
    /// and, when `fraction` is set, exponent); 0 when there is none. DEBUG reads its numbers as C's
    /// strtod and atoi do, from the start and ignoring what follows.
    let private leadingNumber (b: byte[]) (fraction: bool) : struct (int * int) =
        let isDigit i = i < b.Length && b[i] >= '0'B && b[i] <= '9'B
        let digitsFrom i =
            let mutable j = i
            while isDigit j do j <- j + 1
            j

        let mutable start = 0
        while start < b.Length && (b[start] = ' 'B || b[start] = '\t'B) do start <- start + 1
        let signed = if start < b.Length && (b[start] = '-'B || b[start] = '+'B) then start + 1 else start
        let whole = digitsFrom signed
        let afterFraction = if fraction && whole < b.Length && b[whole] = '.'B then digitsFrom (whole + 1) else whole

        if afterFraction = signed || (afterFraction = signed + 1 && whole = signed) then
            struct (start, 0) // no digit at all
        else
            let mutable stop = afterFraction

            if fraction && stop < b.Length && (b[stop] = 'e'B || b[stop] = 'E'B) then
                let expSigned = if stop + 1 < b.Length && (b[stop + 1] = '-'B || b[stop + 1] = '+'B) then stop + 2 else stop + 1
                let expEnd = digitsFrom expSigned
                if expEnd > expSigned then stop <- expEnd

            struct (start, stop - start)

    let private leadingFloat (b: byte[]) : float =
        match leadingNumber b true with
        | struct (_, 0) -> 0.0
        | struct (start, length) ->
            System.Double.Parse(System.Text.Encoding.ASCII.GetString(b, start, length), System.Globalization.CultureInfo.InvariantCulture)

    let private leadingInt (b: byte[]) : int64 =
        match leadingNumber b false with
        | struct (_, 0) -> 0L
        | struct (start, length) ->
            match System.Int64.TryParse(System.Text.Encoding.ASCII.GetString(b, start, length), System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture) with
            | true, n -> n
            | _ -> if b[start] = '-'B then System.Int64.MinValue else System.Int64.MaxValue

    let private parseDebug (a: byte[][]) : Result<Request, Reply> =
        let sub = a[1]

        if Bytes.eqLower "digest" sub && a.Length = 2 then ctl (Control.Debug Debug.Digest)
        elif Bytes.eqLower "digest-value" sub then ctl (Control.Debug(Debug.DigestValue a[2..]))
        // Redis ignores whatever follows LOADAOF.
        elif Bytes.eqLower "loadaof" sub then ctl (Control.Debug Debug.LoadAof)
        elif Bytes.eqLower "sleep" sub && a.Length = 3 then
            // A negative time sleeps for none, as nanosleep refuses it in Redis; the longest is what a
            // thread can sleep (~24 days), where Redis's conversion would overflow.
            ctl (Control.Debug(Debug.Sleep(leadingFloat a[2] |> max 0.0 |> min (float System.Int32.MaxValue / 1000.0))))
        elif Bytes.eqLower "set-active-expire" sub && a.Length = 3 then
            ctl (Control.Debug(Debug.SetActiveExpire(leadingInt a[2] <> 0L)))
        else
            Error(Reply.Error(sprintf "ERR unknown subcommand or wrong number of arguments for '%s'. Try DEBUG HELP." (Bytes.toString sub)))

    let private parseObject (a: byte[][]) : Result<Request, Reply> =
        let sub = a[1]
        let withKey (name: string) (s: ObjectSub) =
            if a.Length = 3 then ok (Command.Object(s, a[2])) else Error(Reply.wrongArity ("object|" + name))

        if Bytes.eqLower "encoding" sub then withKey "encoding" ObjectSub.Encoding
        elif Bytes.eqLower "refcount" sub then withKey "refcount" ObjectSub.RefCount
        elif Bytes.eqLower "idletime" sub then withKey "idletime" ObjectSub.IdleTime
        elif Bytes.eqLower "freq" sub then withKey "freq" ObjectSub.Freq
        else Error(unknownSubcommand sub "object")

    let private specs: (string * int * (byte[][] -> Result<Request, Reply>)) list =
        [ "ping", -1, (fun a -> if a.Length > 2 then Error(Reply.wrongArity "ping") else ok (Command.Ping(if a.Length = 2 then ValueSome a[1] else ValueNone)))
          "echo", 2, (fun a -> ok (Command.Echo a[1]))
          "time", 1, (fun _ -> ok Command.Time)
          "dbsize", 1, (fun _ -> ok Command.DbSize)
          "flushdb", -1, flush "flushdb"
          "flushall", -1, flush "flushall"
          "swapdb", 3,
          (fun a ->
              match Num.tryParseInt64 a[1], Num.tryParseInt64 a[2] with
              | ValueNone, _ -> Error(Reply.Error "ERR invalid first DB index")
              | _, ValueNone -> Error(Reply.Error "ERR invalid second DB index")
              | ValueSome x, ValueSome y ->
                  if x < 0L || y < 0L || x > 1_000_000L || y > 1_000_000L then Error Reply.dbIndexOutOfRange
                  else ok (Command.SwapDb(int x, int y)))
          "get", 2, (fun a -> ok (Command.Get a[1]))
          "set", -3, parseSet
          "setnx", 3, (fun a -> ok (Command.SetNx(a[1], a[2])))
          "setex", 4, setex "setex"
          "psetex", 4, setex "psetex"
          "mget", -2, (fun a -> ok (Command.MGet a[1..]))
          "mset", -3, msets "mset"
          "msetnx", -3, msets "msetnx"
          "getset", 3, (fun a -> ok (Command.GetSet(a[1], a[2])))
          "getdel", 2, (fun a -> ok (Command.GetDel a[1]))
          "getex", -2, parseGetEx
          "append", 3, (fun a -> ok (Command.Append(a[1], a[2])))
          "strlen", 2, (fun a -> ok (Command.StrLen a[1]))
          "incr", 2, (fun a -> ok (Command.IncrBy(a[1], 1L)))
          "decr", 2, (fun a -> ok (Command.IncrBy(a[1], -1L)))
          "incrby", 3, (fun a -> int64Arg a[2] |> Result.map (fun n -> Request.Data(Command.IncrBy(a[1], n))))
          "decrby", 3,
          (fun a ->
              match int64Arg a[2] with
              | Error e -> Error e
              | Ok n when n = Int64.MinValue -> Error(Reply.Error "ERR decrement would overflow")
              | Ok n -> ok (Command.IncrBy(a[1], -n)))
          // The increment is read after the key's type is checked, as Redis reads it (Decide).
          "incrbyfloat", 3, (fun a -> ok (Command.IncrByFloat(a[1], a[2])))
          "getrange", 4, getrange
          "substr", 4, getrange
          "setrange", 4,
          (fun a ->
              match int64Arg a[2] with
              | Error e -> Error e
              | Ok off when off < 0L -> Error(Reply.Error "ERR offset is out of range")
              | Ok off -> ok (Command.SetRange(a[1], off, a[3])))
          "del", -2, (fun a -> ok (Command.Del a[1..]))
          "unlink", -2, (fun a -> ok (Command.Del a[1..]))
          "exists", -2, (fun a -> ok (Command.Exists a[1..]))
          // TOUCH refreshes access times in Redis; with no per-key clock here it only counts, as EXISTS does.
          "touch", -2, (fun a -> ok (Command.Exists a[1..]))
          "type", 2, (fun a -> ok (Command.Type a[1]))
          "keys", 2, (fun a -> ok (Command.Keys a[1]))
          "scan", -2, parseScan
          "randomkey", 1, (fun _ -> ok Command.RandomKey)
          "rename", 3, (fun a -> ok (Command.Rename(a[1], a[2], false)))
          "renamenx", 3, (fun a -> ok (Command.Rename(a[1], a[2], true)))
          "move", 3, (fun a -> intArg a[2] |> Result.map (fun db -> Request.Data(Command.Move(a[1], db))))
          "copy", -3, parseCopy
          "expire", -3, parseExpire "expire" TimeUnit.Seconds false
          "pexpire", -3, parseExpire "pexpire" TimeUnit.Millis false
          "expireat", -3, parseExpire "expireat" TimeUnit.Seconds true
          "pexpireat", -3, parseExpire "pexpireat" TimeUnit.Millis true
          "ttl", 2, (fun a -> ok (Command.Ttl(a[1], TimeUnit.Seconds, false)))
          "pttl", 2, (fun a -> ok (Command.Ttl(a[1], TimeUnit.Millis, false)))
          "expiretime", 2, (fun a -> ok (Command.Ttl(a[1], TimeUnit.Seconds, true)))
          "pexpiretime", 2, (fun a -> ok (Command.Ttl(a[1], TimeUnit.Millis, true)))
          "persist", 2, (fun a -> ok (Command.Persist a[1]))
          "object", -2, parseObject
          "select", 2, (fun a -> intArg a[1] |> Result.map (fun db -> Request.Control(Control.Select db)))
          "multi", 1, (fun _ -> ctl Control.Multi)
          "exec", 1, (fun _ -> ctl Control.Exec)
          "discard", 1, (fun _ -> ctl Control.Discard)
          "watch", -2, (fun a -> ctl (Control.Watch a[1..]))
          "unwatch", 1, (fun _ -> ctl Control.Unwatch)
          "info", -1, (fun a -> ctl (Control.Info [ for s in a[1..] -> Bytes.toLower s ]))
          "config", -2, parseConfig
          "client", -2, parseClient
          "command", -1, parseCommandCmd
          "quit", -1, (fun _ -> ctl Control.Quit)
          "reset", 1, (fun _ -> ctl Control.Reset)
          "shutdown", -1, shutdown
          "hello", -1, parseHello
          "debug", -2, parseDebug
          "bgrewriteaof", 1, (fun _ -> ctl Control.BgRewriteAof)
          "auth", -2,
          (fun a ->
              match a.Length with
              | 2 -> ctl (Control.Auth(ValueNone, str a[1]))
              | 3 -> ctl (Control.Auth(ValueSome(str a[1]), str a[2]))
              | _ -> Error Reply.syntaxError) ]

    let private writes =
        set
            [ "flushdb"; "flushall"; "swapdb"; "set"; "setnx"; "setex"; "psetex"; "mset"; "msetnx"; "getset"; "getdel"
              "getex"; "append"; "incr"; "decr"; "incrby"; "decrby"; "incrbyfloat"; "setrange"; "del"; "unlink"
              "rename"; "renamenx"; "move"; "copy"; "expire"; "pexpire"; "expireat"; "pexpireat"; "persist" ]

    let private okWhileLoading =
        set [ "auth"; "client"; "command"; "config"; "debug"; "hello"; "info"; "quit"; "reset"; "select"; "shutdown" ]

    /// The collection families' commands, each family's parser wrapped into a request.
    let private families: (string * int * bool * (byte[][] -> Result<Request, Reply>)) list =
        let wrap (specs: (string * int * bool * (byte[][] -> Result<'C, Reply>)) list) (mk: 'C -> Command) =
            [ for (n, a, w, p) in specs -> n, a, w, (fun args -> p args |> Result.map (fun c -> Request.Data(mk c))) ]

        wrap ListCommand.specs Command.Lists
        @ wrap HashCommand.specs Command.Hashes
        @ wrap SetCommand.specs Command.Sets
        @ wrap ZSetCommand.specs Command.SortedSets

    let private table =
        let d = Collections.Generic.Dictionary<byte[], Spec>(NameComparer())

        let add name arity parse write =
            d[Bytes.ofString name] <-
                { Name = name
                  Arity = arity
                  Parse = parse
                  Write = write
                  WhileLoading = okWhileLoading.Contains name }

        for (name, arity, parse) in specs do
            add name arity parse (writes.Contains name)

        for (name, arity, write, parse) in families do
            add name arity parse write

        d

    /// Every command name this server knows, with its arity.
    let all: (string * int) list = [ for (n, a, _) in specs -> n, a ] @ [ for (n, a, _, _) in families -> n, a ]

    /// The command's entry in the table, if it is one this server knows: one lookup per command.
    let lookup (args: byte[][]) : Spec voption =
        if args.Length = 0 then ValueNone
        else
            match table.TryGetValue args[0] with
            | true, s -> ValueSome s
            | _ -> ValueNone

    let arityOk (spec: Spec) (argc: int) =
        if spec.Arity > 0 then argc = spec.Arity else argc >= -spec.Arity

    /// The command's canonical (lower-case) name, if it is one this server knows.
    let tryName (args: byte[][]) : string voption = lookup args |> ValueOption.map (fun s -> s.Name)

    /// The errors Redis gives before running a command: unknown name, wrong number of arguments. Inside
    /// MULTI these refuse the whole transaction; any other error is the command's own.
    let check (args: byte[][]) : Reply voption =
        if args.Length = 0 then
            ValueSome(Reply.Error "ERR empty command")
        else
            match lookup args with
            | ValueNone -> ValueSome(unknownCommand args)
            | ValueSome s when not (arityOk s args.Length) -> ValueSome(Reply.wrongArity s.Name)
            | ValueSome _ -> ValueNone

    /// Turns a client's argument vector into a request, or the error Redis would reply.
    let parse (args: byte[][]) : Result<Request, Reply> =
        match check args with
        | ValueSome e -> Error e
        | ValueNone -> table[args[0]].Parse args

    /// The keys of the session's database a command reads or writes: lazy expiry looks at these first.
    let keys (cmd: Command) : byte[][] =
        match cmd with
        | Command.Get k
        | Command.Set(k, _, _, _, _)
        | Command.SetNx(k, _)
        | Command.SetEx(_, k, _, _, _)
        | Command.GetSet(k, _)
        | Command.GetDel k
        | Command.GetEx(k, _)
        | Command.Append(k, _)
        | Command.StrLen k
        | Command.IncrBy(k, _)
        | Command.IncrByFloat(k, _)
        | Command.GetRange(k, _, _)
        | Command.SetRange(k, _, _)
        | Command.Type k
        | Command.Move(k, _)
        | Command.Expire(_, k, _, _, _, _)
        | Command.Ttl(k, _, _)
        | Command.Persist k
        | Command.Object(_, k) -> [| k |]
        | Command.Lists c -> ListCommand.keys c
        | Command.Hashes c -> HashCommand.keys c
        | Command.Sets c -> SetCommand.keys c
        | Command.SortedSets c -> ZSetCommand.keys c
        | Command.MGet ks
        | Command.Del ks
        | Command.Exists ks -> ks
        | Command.MSet ps
        | Command.MSetNx ps -> Array.map fst ps
        | Command.Rename(s, d, _)
        | Command.Copy(s, d, _, _) -> [| s; d |]
        | Command.Ping _
        | Command.Echo _
        | Command.Time
        | Command.DbSize
        | Command.FlushDb
        | Command.FlushAll
        | Command.SwapDb _
        | Command.Keys _
        | Command.Scan _
        | Command.RandomKey -> [||]

    /// For a blocking command (BLPOP, BZPOPMIN, ...): its timeout in seconds (0 = forever) and its reply
    /// inside MULTI, where it cannot wait. ValueNone for every other command. (A timeout is always answered
    /// with the null array in Redis 7.0, whatever the command.)
    let blocking (cmd: Command) : struct (float * Reply) voption =
        match cmd with
        | Command.Lists c -> ListCommand.blocking c
        | Command.SortedSets c -> ZSetCommand.blocking c
        | _ -> ValueNone
