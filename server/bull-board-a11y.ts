/**
 * Accessibility fixes for bull-board's own page, applied from outside: bull-board (9.10.1) draws icon
 * buttons with no name, an unlabelled Redis logo, and small grey text below WCAG AA contrast
 * (axe-core: button-name, svg-img-alt, color-contrast). Its page gets one style sheet and one
 * script of ours (files of this origin, so the Content-Security-Policy stays as strict): the style
 * sheet darkens the light theme's muted, selected (a selected tab under the pointer too) and null-valued text; the script names the icon buttons after
 * their icons and hides the logo from screen readers, as bull-board re-renders.
 */

/** Where the two files are served, under bull-board's path. */
export const A11Y_STYLE_PATH = '/switchyard/a11y.css';
export const A11Y_SCRIPT_PATH = '/switchyard/a11y.js';

/**
 * The light theme only (the dark theme's colours pass): `:root:not(.dark-mode)` outranks bull-board's
 * `:root`, whichever style sheet loads last.
 */
export const A11Y_STYLE = `:root:not(.dark-mode) {
  --muted-foreground: #4b5561;
  --sidebar-state-selected-foreground: #0a4f47;
  --state-selected-foreground: #0a4f47;
  --hl-meta: #5c6773;
}
`;

/** Names by lucide icon; any other icon is named after its own name. */
export const A11Y_SCRIPT = `(() => {
  const names = {
    'lucide-maximize': 'Full screen',
    'lucide-minimize': 'Leave full screen',
    'lucide-settings': 'Settings',
    'lucide-copy': 'Copy',
  };
  const named = (element) =>
    element.hasAttribute('aria-label') || element.hasAttribute('aria-labelledby') || element.innerText.trim() !== '';
  const fix = () => {
    for (const button of document.querySelectorAll('button')) {
      const svg = button.querySelector('svg');
      if (!svg) continue;
      if (svg.getAttribute('role') === 'img') {
        svg.removeAttribute('role');
        svg.setAttribute('aria-hidden', 'true');
        if (!named(button)) button.setAttribute('aria-label', 'Redis details');
        continue;
      }
      if (named(button)) continue;
      const icon = [...svg.classList].find((name) => name.startsWith('lucide-'));
      if (icon) button.setAttribute('aria-label', names[icon] || icon.slice(7).replaceAll('-', ' '));
    }
  };
  let queued = false;
  new MutationObserver(() => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => {
      queued = false;
      fix();
    });
  }).observe(document.documentElement, { childList: true, subtree: true });
  fix();
})();
`;

/** The page with our style sheet and script, given bull-board's `<base href>` of its own path. */
export function withA11yFixes(page: string, basePath: string): string {
  return page.replace(
    '</head>',
    `<link rel="stylesheet" href="${basePath}${A11Y_STYLE_PATH}"><script defer src="${basePath}${A11Y_SCRIPT_PATH}"></script></head>`,
  );
}
