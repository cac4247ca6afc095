namespace Aof.Engine

// PLACEHOLDER: replaced by the redis.conf parser and directive table.

/// The settings the engine runs with, as `redis-server` would hold them after reading its config.
type Settings =
    { Port: int
      Bind: string[]
      Dir: string
      Databases: int
      LogFile: string
      LogLevel: LogLevel
      Timeout: int
      MaxClients: int
      ProtoMaxBulkLen: int64
      ClientQueryBufferLimit: int64
      Hz: int
      RequirePass: string option
      PidFile: string option }

module Config =
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
          PidFile = None }

    // PLACEHOLDER functions with the signatures the real parser provides.
    let load (args: string[]) (readFile: string -> Result<string, string>) : Result<Settings * string list, string> =
        ignore readFile
        let mutable s = defaults
        let mutable i = 0

        while i + 1 < args.Length do
            match args[i] with
            | "--port" -> s <- { s with Port = int args[i + 1] }
            | "--requirepass" -> s <- { s with RequirePass = Some args[i + 1] }
            | "--dir" -> s <- { s with Dir = args[i + 1] }
            | "--hz" -> s <- { s with Hz = int args[i + 1] }
            | _ -> ()

            i <- i + 1

        Ok(s, [])

    let get (pattern: string) (s: Settings) : (string * string) list =
        [ "port", string s.Port; "timeout", string s.Timeout ]
        |> List.filter (fun (n, _) -> Aof.Core.Glob.isMatch (Aof.Core.Bytes.ofString pattern) (Aof.Core.Bytes.ofString n) true)

    let set (name: string) (value: string) (s: Settings) : Result<Settings, string> =
        match name with
        | "timeout" -> Ok { s with Timeout = int value }
        | _ -> Error(sprintf "ERR Unknown option or number of arguments for CONFIG SET - '%s'" name)
