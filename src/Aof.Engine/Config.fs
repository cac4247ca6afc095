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
