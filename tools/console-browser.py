#!/usr/bin/env python3
"""Drives the operations console in headless Chromium (Debian's chromium and chromium-driver,
through Selenium) for the end-to-end tests and the README's screenshots. Nothing leaves loopback.

  console-browser.py watch URL --stage NAME --until STATUS [--timeout S]
      Opens URL (a run's page), marks the window, and prints one JSON line each time the stage's
      status cell changes, until it reads STATUS; then a last line with whether the page was
      reloaded (the mark gone) and how many times it refreshed itself from the event stream.
  console-browser.py text URL [--css SELECTOR]
      Prints the text of the element (default: main) as JSON.
  console-browser.py click URL --button TEXT [--token T]
      Opens URL, puts the token (if any) in the tab's session storage as the console keeps it,
      clicks the write button whose text is TEXT, and prints the result line and its HTTP status.
  console-browser.py open URL --css SELECTOR
      Opens URL, clicks the first element matching SELECTOR (a link), and prints where the
      browser went and that page's heading.
  console-browser.py verify URL
      Opens URL (the health page), clicks "verify the chain" and prints what the page says.
  console-browser.py screenshot URL PATH [--width W --height H]
"""
import argparse, json, sys, time

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.common.exceptions import StaleElementReferenceException


def driver(width=1280, height=900):
    o = Options()
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              f"--window-size={width},{height}", "--no-first-run", "--disable-extensions"):
        o.add_argument(a)
    o.binary_location = "/usr/bin/chromium"
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=o)


def stage_status(d, stage):
    # The page swaps its main part as events arrive: an element read mid-swap is read again.
    for _ in range(20):
        try:
            cells = d.find_elements(By.CSS_SELECTOR, f'tr[id="stage-{stage}"] td.status')
            return cells[0].text.strip() if cells else None
        except StaleElementReferenceException:
            time.sleep(0.02)
    return None


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("watch"); w.add_argument("url"); w.add_argument("--stage", required=True)
    w.add_argument("--until", required=True); w.add_argument("--timeout", type=float, default=30)
    t = sub.add_parser("text"); t.add_argument("url"); t.add_argument("--css", default="main")
    c = sub.add_parser("click"); c.add_argument("url"); c.add_argument("--button", required=True); c.add_argument("--token")
    o = sub.add_parser("open"); o.add_argument("url"); o.add_argument("--css", required=True)
    v = sub.add_parser("verify"); v.add_argument("url")
    s = sub.add_parser("screenshot"); s.add_argument("url"); s.add_argument("path")
    s.add_argument("--width", type=int, default=1280); s.add_argument("--height", type=int, default=900)
    a = p.parse_args()
    d = driver(*( (a.width, a.height) if a.cmd == "screenshot" else () ))
    try:
        d.get(a.url)
        if a.cmd == "text":
            print(json.dumps({"text": d.find_element(By.CSS_SELECTOR, a.css).text}))
        elif a.cmd == "click":
            if a.token:
                d.execute_script("sessionStorage.setItem('ledgerflow-token', arguments[0])", a.token)
            else:
                d.execute_script("window.prompt = function () { return null; }")
            buttons = [b for b in d.find_elements(By.CSS_SELECTOR, "button.write") if b.text.strip() == a.button]
            if not buttons:
                print(json.dumps({"error": "no button " + a.button}))
                return 1
            buttons[0].click()
            deadline = time.time() + 20
            out = d.find_element(By.ID, "write-result")
            while time.time() < deadline and not out.text.strip():
                time.sleep(0.05)
            time.sleep(0.3)
            out = d.find_element(By.ID, "write-result")
            print(json.dumps({"result": out.text.strip(), "status": out.get_attribute("data-status")}))
        elif a.cmd == "open":
            d.find_element(By.CSS_SELECTOR, a.css).click()
            deadline = time.time() + 20
            while time.time() < deadline and d.current_url == a.url:
                time.sleep(0.05)
            time.sleep(0.3)
            print(json.dumps({"url": d.current_url, "h1": d.find_element(By.TAG_NAME, "h1").text,
                              "graph": len(d.find_elements(By.CSS_SELECTOR, "#graph svg.lineage"))}))
        elif a.cmd == "verify":
            d.find_element(By.CSS_SELECTOR, "button.verify").click()
            out = d.find_element(By.ID, "verify-result")
            deadline = time.time() + 60
            while time.time() < deadline and out.get_attribute("data-ok") is None:
                time.sleep(0.05)
            print(json.dumps({"result": out.text.strip(), "ok": out.get_attribute("data-ok")}))
        elif a.cmd == "screenshot":
            time.sleep(0.5)
            d.save_screenshot(a.path)
            print(json.dumps({"saved": a.path}))
        else:
            d.execute_script("window.__ledgerflowMark = 'same-page'")
            print(json.dumps({"opened": a.url, "status": stage_status(d, a.stage)}), flush=True)
            last, deadline = stage_status(d, a.stage), time.time() + a.timeout
            while time.time() < deadline:
                now = stage_status(d, a.stage)
                if now != last:
                    print(json.dumps({"status": now}), flush=True)
                    last = now
                if now == a.until:
                    break
                time.sleep(0.05)
            mark = d.execute_script("return window.__ledgerflowMark || null")
            refreshed = d.execute_script("return document.body.dataset.refreshed || '0'")
            live = d.execute_script("var e = document.getElementById('live'); return e ? e.className : null")
            print(json.dumps({"final": last, "reloaded": mark != "same-page", "refreshed": int(refreshed), "live": live}), flush=True)
            return 0 if last == a.until else 1
    finally:
        d.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
