/**
 * TLS on the Thrift port: the connections the FrameServer accepted (and let through its allow-list
 * and caps) are handed to a tls.Server that never listens itself, through its documented
 * 'connection' event; it hands back each one whose handshake succeeded, a duplex like any socket,
 * and the framed handling above it does not change.
 *
 * The certificate, key and client CA are read again on reload (SIGHUP) and swapped in with
 * setSecureContext: new handshakes use them, connections already open keep theirs. A file that is
 * missing or a pair that does not match throws, and the context in use stays.
 */
import fs from 'node:fs';
import type net from 'node:net';
import tls from 'node:tls';
import { ConfigError, type ListenerTlsSettings } from '../config/load';

export interface HandshakeEvents {
  secure(socket: tls.TLSSocket): void;
  failed(err: NodeJS.ErrnoException, socket: tls.TLSSocket): void;
}

export class TlsHandshakes {
  private readonly server: tls.Server;
  private settings: ListenerTlsSettings;

  /** Throws a ConfigError when the files cannot be used. */
  constructor(settings: ListenerTlsSettings, events: HandshakeEvents) {
    this.settings = settings;
    const mutual = settings.clientCaFile !== undefined;
    this.server = tls.createServer({
      ...secureContextOptions(settings),
      requestCert: mutual,
      rejectUnauthorized: mutual,
      handshakeTimeout: settings.handshakeTimeoutMs,
      allowHalfOpen: true,
      noDelay: true,
    });
    this.server.on('secureConnection', (socket: tls.TLSSocket) => events.secure(socket));
    this.server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: tls.TLSSocket) => events.failed(err, socket));
  }

  get mutual(): boolean {
    return this.settings.clientCaFile !== undefined;
  }

  get allowedSubjects(): readonly string[] | undefined {
    return this.settings.allowedSubjects;
  }

  /** Starts the handshake of an accepted connection. */
  handshake(socket: net.Socket): void {
    this.server.emit('connection', socket);
  }

  /**
   * New files (or the same files, rewritten) for the handshakes to come. Whether a client
   * certificate is asked for is fixed at start: a change of it throws, and nothing changes.
   */
  reload(settings: ListenerTlsSettings): void {
    if ((settings.clientCaFile !== undefined) !== this.mutual) {
      throw new Error('thriftServer.tls.clientCa added or removed: mutual TLS is switched at start only');
    }
    this.server.setSecureContext(secureContextOptions(settings));
    this.settings = settings;
  }
}

/** The files read and checked: a context is made from them, which fails on a key that is not the certificate's. */
function secureContextOptions(settings: ListenerTlsSettings): tls.SecureContextOptions {
  const options: tls.SecureContextOptions = {
    cert: readPem(settings.certFile, 'thriftServer.tls.cert'),
    key: readPem(settings.keyFile, 'thriftServer.tls.key'),
    ...(settings.clientCaFile === undefined ? {} : { ca: readPem(settings.clientCaFile, 'thriftServer.tls.clientCa') }),
  };
  try {
    tls.createSecureContext(options);
  } catch (err) {
    throw new ConfigError(`thriftServer.tls: certificate ${settings.certFile} and key ${settings.keyFile} unusable: ${(err as Error).message}`);
  }
  return options;
}

function readPem(file: string, key: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw new ConfigError(`${key}: cannot read ${file}: ${(err as Error).message}`);
  }
}
