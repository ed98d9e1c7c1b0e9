// SPDX-License-Identifier: MIT
// /ui/users (admin): the people who may log in, and their roles.
import { get, post, del, session, html, put, $, stamp, toast } from './core.js';

async function draw(main, stale) {
  const users = await get('/v1/users');
  if (stale()) return;
  put(main, html`<h1>Users</h1>
  <div class="tablewrap"><table class="list"><thead><tr><th>Name</th><th>Role</th><th>Created</th><th>Last login</th><th></th></tr></thead>
  <tbody>${users.map((u) => html`<tr data-user="${u.id}"><td data-label="Name">${u.name}</td><td data-label="Role">${u.role}</td>
    <td data-label="Created">${stamp(u.created_at)}</td><td data-label="Last login">${stamp(u.last_login_at)}</td>
    <td>${session.user && u.id === session.user.id ? html`<span class="muted">you</span>`
    : html`<button type="button" class="small danger" data-remove="${u.id}" data-name="${u.name}">Remove</button>`}</td></tr>`)}</tbody></table></div>
  <h2>Add a user</h2>
  <form id="adduser" class="card inline">
    <label>Name <input name="name" required maxlength="64" pattern="[A-Za-z0-9._@\\-]+" autocomplete="off"></label>
    <label>Password <input name="password" type="password" required minlength="8" autocomplete="new-password"></label>
    <label>Role <select name="role"><option>viewer</option><option>operator</option><option>admin</option></select></label>
    <button type="submit">Add</button></form>`);
  $('#adduser').addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = e.target.elements;
    try {
      await post('/v1/users', { name: f.name.value, password: f.password.value, role: f.role.value });
      toast(`User ${f.name.value} added`);
      await draw(main, stale);
    } catch (ex) { toast(ex.message, true); }
  });
  main.querySelector('tbody').addEventListener('click', async (e) => {
    const b = e.target.closest('button[data-remove]');
    if (!b) return;
    if (!confirm(`Remove user ${b.dataset.name}? Their sessions end.`)) return;
    try {
      await del(`/v1/users/${b.dataset.remove}`);
      toast(`User ${b.dataset.name} removed`);
      await draw(main, stale);
    } catch (ex) { toast(ex.message, true); }
  });
}

export async function render(main, _args, stale) {
  document.title = 'roost: users';
  await draw(main, stale);
  return null;
}
