"""The chat page of `pocketllm serve` in a real browser: Debian's headless Chromium driven
by selenium through Debian's chromedriver (tests/server/test_chat_page.cpp runs it).

    chat_page_browser.py BASE_URL OUT_DIR

BASE_URL is a server on stories260K with a long context (-c 4096). The script types a
message and watches a long reply stream in, stops it, checks the speeds line of a short one,
reloads and finds the conversation, starts a new chat, checks that text is shown as
text, and writes OUT_DIR/chat-page.png at a phone-sized viewport (390x844). It prints one
JSON object: {"problems": [...], "partials": N, ...}; problems empty means it passed.
"""
import json
import os
import re
import sys
import time
import traceback
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import ElementClickInterceptedException, ElementNotInteractableException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

BASE, OUT = sys.argv[1].rstrip("/"), sys.argv[2]
problems = []
report = {"problems": problems}


def check(cond, what):
    if not cond:
        problems.append(what)
    return cond


def wait_for(fn, timeout, step=0.05):
    end = time.time() + timeout
    while time.time() < end:
        v = fn()
        if v:
            return v
        time.sleep(step)
    return fn()


def browser():
    o = Options()
    o.binary_location = "/usr/bin/chromium"
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
              "--no-first-run", "--no-default-browser-check", "--disable-extensions",
              "--disable-background-networking", "--disable-component-update", "--disable-sync",
              "--window-size=1000,800", "--user-data-dir=" + os.path.join(OUT, "profile")):
        o.add_argument(a)
    o.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # Debian's driver, never one fetched at run time (selenium-manager is not used with a path).
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=o)


d = browser()
js = d.execute_script


def state():
    return d.find_element(By.ID, "composer").get_attribute("data-state")


def idle_ui():
    return (state() == "idle" and not d.find_element(By.ID, "send").get_attribute("disabled")
            and not d.find_element(By.ID, "stop").is_displayed())


def last_reply():
    return js("const c = document.querySelectorAll('.msg.assistant .content');"
              "return c.length ? c[c.length - 1].textContent : null;")


def last_stats():
    return js("const c = document.querySelectorAll('.msg.assistant .stats');"
              "return c.length ? c[c.length - 1].textContent : null;")


def setting(field, value):
    e = d.find_element(By.ID, field)
    e.clear()
    if value != "":
        e.send_keys(value)


def settings_open(want):
    is_open = d.find_element(By.ID, "settings").get_attribute("open") is not None
    if is_open != want:
        d.find_element(By.CSS_SELECTOR, "#settings summary").click()


def say(text):
    p = d.find_element(By.ID, "prompt")
    p.send_keys(text)
    p.send_keys(Keys.ENTER)


def n_messages():
    return js("return document.querySelectorAll('.msg').length")


def say_and_wait(text, timeout=60):
    """Sends a short message and waits for its reply to end (it may end before a look sees
    the page busy): the page idle again with two more messages and the reply's stats line."""
    before = n_messages()
    say(text)
    return wait_for(lambda: n_messages() == before + 2 and idle_ui() and bool(last_stats()), timeout)


def slots_busy():
    with urllib.request.urlopen(BASE + "/health", timeout=10) as r:
        return json.load(r)["slots_busy"]


try:
    started = time.time()
    d.get(BASE + "/")
    # The script ran (the policy let it) and asked the server for the model's name.
    check(wait_for(lambda: d.find_element(By.ID, "model").text == "stories", 20), "the model name never showed")
    # The style block applied (the policy let it too).
    check(js("return getComputedStyle(document.getElementById('send')).backgroundColor") == "rgb(40, 89, 214)",
          "the page's style block did not apply")
    check(idle_ui(), "the page did not start idle")

    # 1. A long streamed reply (greedy, up to 4000 tokens: stories260K runs to the end of
    # the context on this prompt), every update of its text as the page makes it;
    # then Stop while it still grows.
    settings_open(True)
    setting("system", "")
    setting("temperature", "0")
    setting("max_tokens", "4000")
    js("""window.__seen = [];
          new MutationObserver(() => {
            const c = document.querySelectorAll('.msg.assistant .content');
            const t = c.length ? c[c.length - 1].textContent : '';
            if (window.__seen.length < 100 && t !== window.__seen[window.__seen.length - 1]) window.__seen.push(t);
          }).observe(document.getElementById('messages'), {subtree: true, childList: true, characterData: true});""")
    stopped = False
    for attempt in range(4):
        if attempt > 0:  # it ended by itself before Stop: sample another reply, in a new chat
            js("document.getElementById('new-chat').click()")  # (a reply that filled the context would make the next one a 400)
            setting("temperature", "1")
            setting("seed", str(100 + attempt))
        js("window.__seen = []")
        say("Tom and Lily went to the park. ")
        check(wait_for(lambda: state() == "busy", 5), "sending did not make the page busy")
        grew = wait_for(lambda: state() == "idle" or len(last_reply() or "") > 100, 30)
        # Stop with the page's button, unless the reply already ended (the button is hidden then).
        t_click = time.time()
        if state() != "idle":
            check(grew, "the long reply did not grow")
            try:
                d.find_element(By.ID, "stop").click()
            except (ElementClickInterceptedException, ElementNotInteractableException):
                pass  # it ended between the look and the click
        check(wait_for(idle_ui, 5), "the page did not go back to idle after Stop")
        if "stopped after" not in (last_stats() or ""):
            report.setdefault("ended_before_stop", []).append(last_stats())
            continue
        report["stop_to_idle_s"] = round(time.time() - t_click, 3)
        at_idle = last_reply()
        time.sleep(1.5)
        check(last_reply() == at_idle, "the reply still grew after Stop")
        check((last_stats() or "").startswith("stopped after"), "the stopped reply is not marked: %r" % last_stats())
        # The server saw the browser hang up and freed the slot.
        check(wait_for(lambda: slots_busy() == 0, 10, 0.2), "the server's slot stayed busy after Stop")
        report["stopped_at_chars"] = len(at_idle)
        # What the page showed on the way: distinct growing prefixes of what it kept.
        partials = []
        for t in js("return window.__seen"):
            if t and t != at_idle and at_idle.startswith(t) and t not in partials:
                partials.append(t)
        report["partials"] = len(partials)
        check(len(partials) >= 2, "fewer than two partial states of the reply were shown")
        stopped = True
        break
    check(stopped, "every long reply ended before Stop could be pressed")

    # 2. A short reply that ends by itself: its speeds line.
    setting("temperature", "0.8")
    setting("seed", "11")
    setting("max_tokens", "40")
    check(say_and_wait("Once upon a time"), "the short reply never ended")
    check(len((last_reply() or "").strip()) > 0, "the short reply is empty")
    stats = last_stats()
    report["stats"] = stats
    check(re.search(r"prefill [0-9.]+ tok/s \(\d+ tokens\)", stats or "") is not None, "no prefill speed: %r" % stats)
    check(re.search(r"decode [0-9.]+ tok/s \(\d+ tokens\)", stats or "") is not None, "no decode speed: %r" % stats)

    # 3. Reload: the conversation is kept (localStorage), and so are the settings.
    before = js("return [...document.querySelectorAll('.msg')].map(m => m.className + '|' + m.textContent)")
    d.refresh()
    wait_for(lambda: d.find_element(By.ID, "model").text == "stories", 20)
    after = js("return [...document.querySelectorAll('.msg')].map(m => m.className + '|' + m.textContent)")
    check(len(before) >= 4 and before == after, "the conversation was not kept across a reload (%d vs %d)"
          % (len(before), len(after)))
    check(d.find_element(By.ID, "max_tokens").get_attribute("value") == "40", "the settings were not kept")

    # 4. New chat empties it; text that looks like HTML is shown as text.
    d.find_element(By.ID, "new-chat").click()
    check(js("return document.querySelectorAll('.msg').length") == 0, "New chat did not empty the conversation")
    settings_open(True)
    setting("max_tokens", "8")
    check(say_and_wait("<b>Once</b> upon <img src=x> a time"), "the reply never ended")
    check(js("return document.querySelectorAll('#messages b, #messages img').length") == 0,
          "user text was parsed as HTML")
    check("<b>Once</b> upon <img src=x> a time" in d.find_element(By.CSS_SELECTOR, ".msg.user .content").text,
          "user text not shown as typed")

    # The screenshot's conversation, kept across a reload too.
    d.find_element(By.ID, "new-chat").click()
    setting("max_tokens", "48")
    setting("seed", "3")
    settings_open(False)  # closed for the screenshot
    check(say_and_wait("Once upon a time"), "the last reply never ended")
    d.refresh()
    wait_for(lambda: d.find_element(By.ID, "model").text == "stories", 20)
    check(js("return document.querySelectorAll('.msg').length") == 2, "the new chat was not the one kept")

    # 5. A phone-sized viewport: nothing wider than the screen, the message box on screen.
    d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                      {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True})
    time.sleep(0.3)
    check(js("return document.documentElement.scrollWidth <= window.innerWidth"), "the page is wider than a phone")
    check(js("const r = document.getElementById('composer').getBoundingClientRect();"
             "return r.bottom <= window.innerHeight + 1 && r.top >= 0"), "the message box is off screen on a phone")
    check(js("return window.innerWidth") == 390, "the phone viewport was not applied")
    shot = os.path.join(OUT, "chat-page.png")
    check(d.save_screenshot(shot), "no screenshot")
    report["screenshot"] = shot

    # Nothing the policy blocked, no script error.
    logs = d.get_log("browser")
    bad = [e["message"] for e in logs if e.get("level") == "SEVERE" or "Content Security Policy" in e["message"]]
    check(not bad, "browser console errors: %r" % bad)
    report["seconds"] = round(time.time() - started, 1)
except Exception as e:  # a selenium failure is a test failure with its message
    where = traceback.extract_tb(e.__traceback__)[-1]
    problems.append("line %d (%s): %s: %s" % (where.lineno, where.line, type(e).__name__, str(e).split("\n")[0]))
finally:
    d.quit()
print(json.dumps(report))
