/**
 * Sending one notification on its channel: over HTTP for every type but
 * `email`, which goes over SMTP (`smtp.ts`, loaded only when an email
 * channel sends).
 *
 * @module
 */

import type { ChannelConfig } from "../config/alerts.ts";
import type { Notification } from "./message.ts";
import { channelRequest, type Delivery, post } from "./channels.ts";

/** Deliver `n` on `channel`; never throws. */
export async function deliver(
  _name: string,
  channel: ChannelConfig,
  n: Notification,
): Promise<Delivery> {
  if (channel.type === "email") {
    const { sendEmail } = await import("./smtp.ts");
    return await sendEmail(channel, n);
  }
  const http = channel as ChannelConfig & { type: Exclude<ChannelConfig["type"], "email"> };
  return await post(channelRequest(http, n, Date.now()), channel.type, channel.timeout);
}
